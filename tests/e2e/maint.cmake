# Maintenance and WAN friendliness (issue 12 items 3 and 4; issue 11's
# read-only verify): verify/--repair/reset, cleanup, the content rate limit,
# the content window and progress lines.
if(TARGET wsus_sync)
  wsus_e2e_test(e2e_maint_content SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/maint_content.sh TIMEOUT 180)
endif()
wsus_e2e_test(e2e_maint_cleanup SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/maint_cleanup.sh TIMEOUT 120)
# Waits for a window that opens one or two minutes after the start.
if(TARGET wsus_sync)
  wsus_e2e_test(e2e_maint_window SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/maint_window.sh TIMEOUT 240)
endif()
