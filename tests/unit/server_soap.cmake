# server/ unit tests of the SOAP layer (dispatch, faults) and sealed cookies.
# They link wsus_server alone: the static library only contributes the
# objects a test uses, so the services and the MHD core are not needed.
if(TARGET wsus_server)
  foreach(part soap cookie)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_${part}.c)
    if(EXISTS ${src})
      wsus_unit_test(test_server_${part} SOURCES ${src} LIBS wsus_server)
    endif()
  endforeach()
endif()
