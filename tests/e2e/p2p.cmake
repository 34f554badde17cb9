# Tests of the P2P harness (tools/p2p, tools/testnode, tools/loadgen). Included from
# tests/CMakeLists.txt when the tools are built.
#
#   tracering_p2p_unit_tests  parsing and framing, in process            label p2p
#   tracering_p2p_e2e_tests   tracering-testnode and tracering-loadgen    label e2e
#                             processes, read through the control socket

add_executable(tracering_p2p_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/p2p_unit_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/p2p_messages_test.cpp)
target_include_directories(tracering_p2p_unit_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(tracering_p2p_unit_tests PRIVATE
  tracering_p2p tracering_consumer tracering_test_paths GTest::gtest_main)
gtest_discover_tests(tracering_p2p_unit_tests
  PROPERTIES LABELS p2p
  DISCOVERY_TIMEOUT 60)

# The harness those tests drive the node and watch it with (p2p_harness.h).
add_library(tracering_p2p_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/p2p_harness.cpp)
target_include_directories(tracering_p2p_harness PUBLIC
  ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(tracering_p2p_harness PUBLIC
  tracering_p2p tracering_consumer tracering_test_samples tracering_test_paths GTest::gtest)

add_executable(tracering_p2p_e2e_tests ${CMAKE_CURRENT_LIST_DIR}/p2p_test.cpp)
target_link_libraries(tracering_p2p_e2e_tests PRIVATE tracering_p2p_harness GTest::gtest_main)
add_dependencies(tracering_p2p_e2e_tests tracering-testnode tracering-loadgen)
gtest_discover_tests(tracering_p2p_e2e_tests
  PROPERTIES LABELS e2e TIMEOUT 60
  DISCOVERY_TIMEOUT 60)

# With USDT probes compiled in, the binary carries a probe note for each of the 7 tracepoints
# it fires, each with its semaphore, as bitcoind built with -DWITH_USDT=ON does.
if(TRACERING_TESTNODE_USDT)
  set(_probes inbound_message outbound_message inbound_connection misbehaving_connection
              closed_connection block_connected added)
  list(JOIN _probes "|" _probes)
  # Prints the number of those probes, then the number of probes with a semaphore.
  set(_count_notes
    "notes=$(readelf -n \"$0\") &&"
    "echo \"$notes\" | grep -cE '^ *Name: (${_probes})$' &&"
    "echo \"$notes\" | grep -cE 'Semaphore: 0x0*[1-9a-f]'")
  list(JOIN _count_notes " " _count_notes)
  add_test(NAME P2PUsdt.TestnodeCarriesBitcoinCoreProbeNotesWithSemaphores
    COMMAND sh -c "${_count_notes}" $<TARGET_FILE:tracering-testnode>)
  set_tests_properties(P2PUsdt.TestnodeCarriesBitcoinCoreProbeNotesWithSemaphores PROPERTIES
    LABELS e2e PASS_REGULAR_EXPRESSION "^7\n7\n$")
endif()

# The tools together: testnode, loadgen and ringdump's -capturemessages output.
if(TARGET ringdump)
  add_executable(tracering_tools_e2e_tests ${CMAKE_CURRENT_LIST_DIR}/capture_test.cpp)
  target_include_directories(tracering_tools_e2e_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(tracering_tools_e2e_tests PRIVATE
    tracering_test_samples tracering_test_paths GTest::gtest_main)
  add_dependencies(tracering_tools_e2e_tests tracering-testnode tracering-loadgen ringdump)
  gtest_discover_tests(tracering_tools_e2e_tests
    PROPERTIES LABELS e2e TIMEOUT 90
    DISCOVERY_TIMEOUT 60)
endif()
