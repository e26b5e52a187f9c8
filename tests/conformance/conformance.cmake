# tests/conformance/: behaviour compared with a real Windows Server WSUS: the
# real documents (fixtures/update-docs) and the real traffic the project has
# (fixtures/ws2025-uss-capture). `ctest -L conformance` runs the suite.
wsus_e2e_test(conformance_fragments SCRIPT ${CMAKE_CURRENT_LIST_DIR}/fragments.sh TIMEOUT 900)
set_tests_properties(conformance_fragments PROPERTIES LABELS "conformance;e2e")

if(TARGET wsus_server)
  wsus_unit_test(conformance_categories
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_conformance_categories.c
            ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_server_client_util.c
    LIBS wsus_server PkgConfig::LIBXML2 TIMEOUT 120)
  set_tests_properties(conformance_categories PROPERTIES LABELS "conformance;unit")
  # The replays of the WS2025 upstream capture: the upstream role answering
  # its requests, and a sync of ours against its answers.
  if(TEST test_server_sss_replay)
    set_tests_properties(test_server_sss_replay PROPERTIES LABELS "conformance;unit")
  endif()
endif()
if(TEST e2e_hier_replay)
  set_tests_properties(e2e_hier_replay PROPERTIES LABELS "conformance;e2e")
endif()
wsus_e2e_test(conformance_endpoints SCRIPT ${CMAKE_CURRENT_LIST_DIR}/endpoints.sh TIMEOUT 300)
set_tests_properties(conformance_endpoints PROPERTIES LABELS "conformance;e2e")
