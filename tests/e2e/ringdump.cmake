# End-to-end tests of ringdump: the real binary against a real producer process
# (ringdump_test_producer fires known events on command), plus tests of ringdump's library;
# and of tracering-demo's watch, a consumer beside ringdump.
# Included from tests/CMakeLists.txt when the tools are built.

add_executable(ringdump_test_producer
  ${CMAKE_CURRENT_LIST_DIR}/ringdump/producer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ringdump/known_events.cpp)
target_include_directories(ringdump_test_producer PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(ringdump_test_producer PRIVATE tracering_producer tracering_flags)

# The harness the end-to-end tests run ringdump and the producer with (ringdump/harness.h).
add_library(ringdump_test_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/ringdump/harness.cpp)
target_include_directories(ringdump_test_harness PUBLIC
  ${CMAKE_CURRENT_SOURCE_DIR}
  ${CMAKE_CURRENT_LIST_DIR}/ringdump)
target_link_libraries(ringdump_test_harness PUBLIC
  tracering_test_samples tracering_test_paths GTest::gtest)

add_executable(ringdump_tests
  ${CMAKE_CURRENT_LIST_DIR}/ringdump_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ringdump_library_test.cpp)
target_link_libraries(ringdump_tests PRIVATE
  ringdump_test_harness tracering_ringdump GTest::gtest_main)
add_dependencies(ringdump_tests ringdump ringdump_test_producer tracering-demo)

gtest_discover_tests(ringdump_tests
  PROPERTIES LABELS e2e TIMEOUT 60
  DISCOVERY_TIMEOUT 60)
