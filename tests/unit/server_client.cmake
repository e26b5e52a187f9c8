# server/ client services (MS-WUSP ClientWebService, SimpleAuth): handler-level
# tests through server_soap_dispatch against a generated catalogue, every
# answer validated against the WSDL schemas with libxml2.
if(TARGET wsus_server)
  set(server_client_util ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_client_util.c)
  foreach(part client client_sync scanstate)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_${part}.c)
    if(EXISTS ${src})
      wsus_unit_test(test_server_${part} SOURCES ${src} ${server_client_util}
        LIBS wsus_server PkgConfig::LIBXML2 TIMEOUT 120)
      add_dependencies(test_server_${part} wsus-gencatalog)
    endif()
  endforeach()
endif()
