# Operations (issue 11): command line, read-only commands, backup, packaging,
# reload, admin listener.
wsus_e2e_test(e2e_ops_cli SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_cli.sh TIMEOUT 300)
# The package build is the same in both builds: run it once, in the normal one.
if(NOT WSUS_SANITIZE)
  wsus_e2e_test(e2e_ops_package SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_package.sh TIMEOUT 2400)
endif()
wsus_e2e_test(e2e_ops_reload SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_reload.sh TIMEOUT 300)
wsus_e2e_test(e2e_ops_admin SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_admin.sh TIMEOUT 400)
wsus_e2e_test(e2e_ops_sync_history SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_sync_history.sh TIMEOUT 300)
wsus_e2e_test(e2e_ops_guide SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ops_guide.sh TIMEOUT 400)
