# `wsus-replica scan` (issue 5): the client-role code, its load generator and
# its end-to-end test.
# wsus-scanload: N concurrent clients running full scans (bench/scan.sh).
add_executable(wsus-scanload ${CMAKE_CURRENT_SOURCE_DIR}/tools/wsus-scanload.c)
target_link_libraries(wsus-scanload PRIVATE wsus_sync wsus_config wsus_protocol Threads::Threads)
set_target_properties(wsus-scanload PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})

wsus_e2e_test(e2e_scan_server SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scan_server.sh TIMEOUT 300)
wsus_e2e_test(e2e_scan_recovery SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scan_recovery.sh TIMEOUT 300)
wsus_e2e_test(e2e_scan_hier SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scan_hier.sh TIMEOUT 300)
