# Tests of tracering-extractor's conversion (tools/extractor/convert). Included from
# tests/CMakeLists.txt when the extractor is built (protobuf found).
#
#   tracering_extractor_tests  events converted to peer-observer's protobuf   label extractor

add_executable(tracering_extractor_tests ${CMAKE_CURRENT_LIST_DIR}/convert_test.cpp)
target_include_directories(tracering_extractor_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(tracering_extractor_tests PRIVATE
  tracering_extractor_convert tracering_p2p tracering_producer tracering_test_paths
  GTest::gtest_main)
target_compile_definitions(tracering_extractor_tests PRIVATE
  TRACERING_PROTOC="${Protobuf_PROTOC_EXECUTABLE}")
gtest_discover_tests(tracering_extractor_tests
  PROPERTIES LABELS extractor
  DISCOVERY_TIMEOUT 60)
