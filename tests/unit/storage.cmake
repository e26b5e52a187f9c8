# storage/ unit tests: one binary per area, sharing test_storage_util.c.
set(storage_test_util ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storage_util.c)
foreach(area schema revision deploy content status)
  wsus_unit_test(test_storage_${area}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storage_${area}.c ${storage_test_util}
    LIBS wsus_storage PkgConfig::SQLITE3)
endforeach()

# The fragment migration needs the document parser (protocol/).
wsus_unit_test(test_storage_migrate
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storage_migrate.c ${storage_test_util}
  LIBS wsus_storage wsus_protocol PkgConfig::SQLITE3)
