# tests/conformance/: behaviour compared with a real Windows Server WSUS (real
# documents, real traffic), through the binary and the test tools.
wsus_e2e_test(conformance_fragments SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fragments.sh TIMEOUT 900)
set_tests_properties(conformance_fragments PROPERTIES LABELS "conformance;e2e")
