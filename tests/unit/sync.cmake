# sync/ unit tests: the pin store and verdict logic, the URL/proxy/retry decisions.
foreach(area trust http)
  wsus_unit_test(test_sync_${area}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sync_${area}.c
    LIBS wsus_sync TIMEOUT 60)
endforeach()
