# Front end end-to-end tests: a real `wsus-replica serve` on loopback.
wsus_e2e_test(e2e_server_content SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_content.sh TIMEOUT 120)
wsus_e2e_test(e2e_server_tls SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_tls.sh TIMEOUT 120)
wsus_e2e_test(e2e_server_admission SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_admission.sh TIMEOUT 180)
wsus_e2e_test(e2e_server_hostile SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_hostile.sh TIMEOUT 600)
# Client reports (issue 9): acknowledged events survive SIGKILL, the quotas
# and the registration cap and rate hold against real clients.
wsus_e2e_test(e2e_report_bounds SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/report_bounds.sh TIMEOUT 300)
wsus_e2e_test(e2e_server_downstream SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/server_downstream.sh TIMEOUT 120)
