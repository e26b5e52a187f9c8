# The upstream (USS) role of MS-WSUSSS: ServerSync, DssAuth and the rollup half
# of Reporting, dispatched through the SOAP layer onto a real storage.
if(TARGET wsus_server)
  set(sss_test_util ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_sss_util.c)
  foreach(part sss sss_data sss_replay sss_reporting)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_${part}.c)
    if(EXISTS ${src})
      wsus_unit_test(test_server_${part} SOURCES ${src} ${sss_test_util}
        LIBS wsus_server wsus_storage wsus_protocol PkgConfig::LIBXML2 TIMEOUT 120)
    endif()
  endforeach()
endif()
# The rollup our DSS sends (sync/) against our USS (server/), three tiers in one process.
if(TARGET wsus_server AND TARGET wsus_sync)
  wsus_unit_test(test_sync_rollup SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sync_rollup.c ${sss_test_util}
    LIBS wsus_sync wsus_server wsus_storage wsus_protocol PkgConfig::LIBXML2 TIMEOUT 120)
endif()
