# One test binary per tests/unit/test_protocol_<part>.c, each linked with wsus_protocol.
file(GLOB protocol_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_protocol_*.c)
foreach(src ${protocol_tests})
  get_filename_component(name ${src} NAME_WE)
  wsus_unit_test(${name} SOURCES ${src} LIBS wsus_protocol)
endforeach()
