wsus_e2e_test(e2e_cli_catalog SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cli_catalog.sh TIMEOUT 300)
wsus_e2e_test(e2e_demo SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/demo.sh TIMEOUT 400)
