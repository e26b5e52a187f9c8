wsus_unit_test(test_config SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_config.c LIBS wsus_config)
# Lines longer than inih's built-in 200 bytes load only where inih can be told so.
if(WSUS_INIH_RUNTIME_OPTIONS)
  target_compile_definitions(test_config PRIVATE WSUS_INIH_RUNTIME_OPTIONS=1)
endif()
