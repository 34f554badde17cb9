# Schema evolution across builds. A second schema set, v2, is schemas/ plus a field added to
# net.InboundMessage (evolution_note, with the table's next free id) and an event added to
# the net ring (net:evolution_probe, type 63). It is derived from schemas/net.fbs when CMake
# configures, so it always extends the schemas of this checkout, as a later release would.
# The producer and consumer libraries are built again from v2 (tracering_add_libraries), and
# the test programs once against each set: evolution_test runs old against new both ways.

set(_v2_dir ${CMAKE_CURRENT_BINARY_DIR}/evolution/v2-schemas)
file(MAKE_DIRECTORY ${_v2_dir})
file(READ ${PROJECT_SOURCE_DIR}/schemas/net.fbs _net)
string(FIND "${_net}" "table InboundMessage (event: 1) {" _at)
if(_at LESS 0)
  message(FATAL_ERROR "schemas/net.fbs has no 'table InboundMessage (event: 1) {'")
endif()
string(SUBSTRING "${_net}" ${_at} -1 _rest)
string(REGEX MATCH "\n}\n// Next id: ([0-9]+)" _close "${_rest}")
if(NOT _close)
  message(FATAL_ERROR "schemas/net.fbs: InboundMessage is not followed by '// Next id: N'")
endif()
set(_next_id ${CMAKE_MATCH_1})
string(FIND "${_rest}" "${_close}" _end)
math(EXPR _insert "${_at} + ${_end}")
string(SUBSTRING "${_net}" 0 ${_insert} _head)
string(SUBSTRING "${_net}" ${_insert} -1 _tail)
if(_net MATCHES "\\(event: 63\\)")
  message(FATAL_ERROR "schemas/net.fbs uses event 63, which the evolution test adds; pick another")
endif()
file(CONFIGURE OUTPUT ${_v2_dir}/net.fbs @ONLY CONTENT
"${_head}
  evolution_note:string (id: ${_next_id});  // added in v2 by tests/evolution/evolution.cmake${_tail}

// Added in v2 by tests/evolution/evolution.cmake.
table EvolutionProbe (event: 63) {
  peer_id:long (id: 0);
  note:string (id: 1);
}
")

tracering_generate_schemas(tracering_schemas_v2 ${CMAKE_CURRENT_BINARY_DIR}/evolution/generated
  ${_v2_dir} ${PROJECT_SOURCE_DIR}/schemas)
# v2's new event has no typed emitter in tracepoint.h: the test writes it with WriteRaw.
target_compile_definitions(tracering_schemas_v2_catalogue INTERFACE
  TRACERING_ALLOW_EVENTS_WITHOUT_EMITTER)
tracering_add_libraries(_v2 tracering_schemas_v2)

foreach(_version v1 v2)
  set(_suffix "")
  if(_version STREQUAL "v2")
    set(_suffix _v2)
  endif()
  add_executable(evolution_producer_${_version} ${CMAKE_CURRENT_LIST_DIR}/producer.cpp)
  target_link_libraries(evolution_producer_${_version} PRIVATE
    tracering_producer${_suffix} tracering_schemas${_suffix} tracering_flags)
  add_executable(evolution_consumer_${_version} ${CMAKE_CURRENT_LIST_DIR}/consumer.cpp)
  target_link_libraries(evolution_consumer_${_version} PRIVATE
    tracering_consumer${_suffix} tracering_flags)
  if(_version STREQUAL "v2")
    target_compile_definitions(evolution_producer_v2 PRIVATE TRACERING_EVOLUTION_V2)
    target_compile_definitions(evolution_consumer_v2 PRIVATE TRACERING_EVOLUTION_V2)
  endif()
endforeach()

add_executable(evolution_tests ${CMAKE_CURRENT_LIST_DIR}/evolution_test.cpp)
target_link_libraries(evolution_tests PRIVATE
  tracering_test_samples tracering_test_paths GTest::gtest_main)
target_include_directories(evolution_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
add_dependencies(evolution_tests evolution_producer_v1 evolution_producer_v2
  evolution_consumer_v1 evolution_consumer_v2 ringdump)
gtest_discover_tests(evolution_tests PROPERTIES LABELS "e2e;evolution")
