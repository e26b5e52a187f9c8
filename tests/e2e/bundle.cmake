# Signed air-gap transfer (issue 13.5): export on a seeded tier 0, import on a
# tier 1 with no upstream, tampering/wrong key/unsigned/replay refused; an
# import killed while staging or while storing payloads.
if(TARGET wsus_sync)
  wsus_e2e_test(e2e_bundle_airgap SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/bundle_airgap.sh TIMEOUT 240)
  wsus_e2e_test(e2e_bundle_crash SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/bundle_crash.sh TIMEOUT 300)
endif()
