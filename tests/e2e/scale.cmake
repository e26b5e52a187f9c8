# Scale-out (issue 13 item 4): front ends of one site behind HAProxy.
wsus_e2e_test(e2e_scale_haproxy SCRIPT ${CMAKE_CURRENT_SOURCE_DIR}/e2e/scale_haproxy.sh TIMEOUT 300)
