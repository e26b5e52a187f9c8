# Hierarchy end-to-end tests (issue 4, the sync phases): real processes on
# loopback, certificates made by the tests, every link HTTPS with pinning.
if(TARGET wsus_sync)
  foreach(t three_tiers replay fail_closed tamper crash origin provenance rollup)
    wsus_e2e_test(e2e_hier_${t} SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/hier_${t}.sh TIMEOUT 180)
  endforeach()
endif()
