# Sync phases (issue 4): the storage side of staging and publishing, and the
# phase logic against canned upstream answers (the real WS2025 capture).
wsus_unit_test(test_sync_stage
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sync_stage.c ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storage_util.c
  LIBS wsus_storage PkgConfig::SQLITE3 TIMEOUT 60)
wsus_unit_test(test_sync_phases
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sync_phases.c ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storage_util.c
  LIBS wsus_sync PkgConfig::SQLITE3 TIMEOUT 60)
