# server/ client reports (ReportEventBatch, the event writer, storage_report)
# and response compression, through server_soap_dispatch and the real daemon.
if(TARGET wsus_server)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_report.c)
  if(EXISTS ${src})
    wsus_unit_test(test_server_report
      SOURCES ${src} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_client_util.c
        ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_report_util.c
      LIBS wsus_server PkgConfig::LIBXML2 PkgConfig::CURL TIMEOUT 120)
  endif()
  wsus_unit_test(test_server_report_quota
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_report_quota.c
      ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_client_util.c
      ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_report_util.c
    LIBS wsus_server PkgConfig::LIBXML2 TIMEOUT 120)
endif()
