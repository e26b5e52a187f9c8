# server/ core unit tests: content parsers, TLS certificate, the daemon on loopback.
wsus_unit_test(test_server_content
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_content.c LIBS wsus_server)
wsus_unit_test(test_server_tls
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_tls.c LIBS wsus_server)
# test_server_daemon defines its own server_services[] (a test service table).
wsus_unit_test(test_server_daemon
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_daemon.c LIBS wsus_server PkgConfig::CURL
  TIMEOUT 60)
# Admission control (queue, 503, per-address limit, stop); its own service table.
wsus_unit_test(test_server_admission
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_admission.c LIBS wsus_server PkgConfig::CURL
  TIMEOUT 90)
