# The upstream (USS) role end to end: a downstream's sync against `serve`.
wsus_e2e_test(e2e_sss_sync SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/sss_sync.sh TIMEOUT 180)
