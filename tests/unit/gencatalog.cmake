# The catalogue generator's test runs the built tool, so the tool is built first.
wsus_unit_test(test_gencatalog SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gencatalog.c
  LIBS wsus_common PkgConfig::LIBXML2 PkgConfig::OPENSSL)
add_dependencies(test_gencatalog wsus-gencatalog)
