# Chain-of-trust tests (issue 4, upstream client): the wsus-httpget driver and
# the end-to-end scripts that run real TLS servers and proxies on loopback.
if(TARGET wsus_sync)
  add_executable(wsus-httpget ${CMAKE_CURRENT_SOURCE_DIR}/tools/wsus-httpget.c)
  target_link_libraries(wsus-httpget PRIVATE wsus_sync wsus_config wsus_protocol)
  set_target_properties(wsus-httpget PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  foreach(t tls http proxy pin_fetch)
    wsus_e2e_test(e2e_trust_${t} SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/trust_${t}.sh TIMEOUT 180)
  endforeach()
endif()
