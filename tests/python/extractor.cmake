# tracering-extractor's end-to-end tests (test_extractor.py, pytest), against real
# tracering-testnode, tracering-loadgen and nats-server processes; a subscriber decodes what
# the extractor publishes with Python classes protoc generates from tools/extractor/proto for
# the test session. Included from tests/CMakeLists.txt when the extractor is built.
#                                                                        label extractor
# Without nats-server (Debian: nats-server, in /usr/sbin) the tests that need it skip, and
# CTest reports the test as skipped, saying why.

if(NOT Python3_Interpreter_FOUND)
  if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3) # Debian's, which has pytest and protobuf
  endif()
  find_package(Python3 COMPONENTS Interpreter)
endif()
find_program(TRACERING_NATS_SERVER nats-server PATHS /usr/sbin /usr/local/sbin)
if(NOT TRACERING_NATS_SERVER)
  message(STATUS "nats-server not found: the extractor's tests will skip "
                 "(Debian: apt-get install nats-server)")
  set(TRACERING_NATS_SERVER "")
endif()
find_program(TRACERING_PROTOC protoc)

if(Python3_Interpreter_FOUND)
  add_test(NAME Python.test_extractor
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -rs -p no:cacheprovider test_extractor.py
    WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(Python.test_extractor PROPERTIES
    LABELS extractor
    TIMEOUT 600
    SKIP_REGULAR_EXPRESSION "SKIPPED .*nats-server not found"
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;TRACERING_TESTNODE=$<TARGET_FILE:tracering-testnode>;TRACERING_LOADGEN=$<TARGET_FILE:tracering-loadgen>;TRACERING_EXTRACTOR=$<TARGET_FILE:tracering-extractor>;TRACERING_EXTRACTOR_PROTO=${PROJECT_SOURCE_DIR}/tools/extractor/proto;TRACERING_PROTOC=${TRACERING_PROTOC};TRACERING_NATS_SERVER=${TRACERING_NATS_SERVER};TRACERING_BLOCK413567=${PROJECT_SOURCE_DIR}/tests/fixtures/block413567.raw")
endif()
