wsus_unit_test(test_common SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_common.c LIBS wsus_common)
wsus_unit_test(test_common_bundle SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_common_bundle.c LIBS wsus_common)
