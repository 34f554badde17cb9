# Generates C++ headers from schemas/*.fbs at build time (Debian's FlatBuffers 2.0.8 ships no
# CMake generator function) and a header with the schema hash both sides compare at attach.

set(TRACERING_FBS_NAMES common net mempool utxocache validation coin_selection)
set(TRACERING_GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated)
set(TRACERING_GENERATED_SCHEMA_DIR ${TRACERING_GENERATED_DIR}/tracering/schemas)
file(MAKE_DIRECTORY ${TRACERING_GENERATED_SCHEMA_DIR})

set(TRACERING_FBS_FILES)
set(TRACERING_FBS_HEADERS)
foreach(name IN LISTS TRACERING_FBS_NAMES)
  set(fbs ${CMAKE_CURRENT_SOURCE_DIR}/schemas/${name}.fbs)
  set(out ${TRACERING_GENERATED_SCHEMA_DIR}/${name}_generated.h)
  list(APPEND TRACERING_FBS_FILES ${fbs})
  list(APPEND TRACERING_FBS_HEADERS ${out})
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${FLATC_EXECUTABLE} --cpp --scoped-enums
            --include-prefix tracering/schemas
            -I ${CMAKE_CURRENT_SOURCE_DIR}/schemas
            -o ${TRACERING_GENERATED_SCHEMA_DIR} ${fbs}
    DEPENDS ${fbs} ${TRACERING_FBS_FILES}
    COMMENT "flatc: generating ${name}_generated.h"
    VERBATIM)
endforeach()
add_custom_target(tracering_schemas_gen DEPENDS ${TRACERING_FBS_HEADERS})

# The schema hash: CMake's own SHA-256 over every .fbs in a
# fixed order, cut to 64 bits. Any edit of a schema changes it; reconfiguring follows edits.
set(_schema_text "")
foreach(fbs IN LISTS TRACERING_FBS_FILES)
  file(READ ${fbs} _one)
  string(APPEND _schema_text "${_one}")
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${TRACERING_FBS_FILES})
string(SHA256 _schema_sha "${_schema_text}")
string(SUBSTRING "${_schema_sha}" 0 16 TRACERING_SCHEMA_HASH)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/schema_hash.h.in
               ${TRACERING_GENERATED_DIR}/tracering/schema_hash.h @ONLY)

# Header-only target carrying the generated schema headers (installed with the consumer).
add_library(tracering_schemas INTERFACE)
add_dependencies(tracering_schemas tracering_schemas_gen)
target_include_directories(tracering_schemas INTERFACE
  $<BUILD_INTERFACE:${TRACERING_GENERATED_DIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(tracering_schemas INTERFACE flatbuffers::flatbuffers)

# The control plane's Cap'n Proto code, generated at build time. Debian's CapnProto package
# points its compiler target at a wrong path, so the compiler is called directly through
# CAPNP_EXECUTABLE instead of capnp_generate_cpp().
find_package(CapnProto REQUIRED)
set(TRACERING_CAPNP_DIR ${TRACERING_GENERATED_DIR}/tracering/control)
file(MAKE_DIRECTORY ${TRACERING_CAPNP_DIR})
set(TRACERING_CAPNP_SRC ${TRACERING_CAPNP_DIR}/control.capnp.c++)
set(TRACERING_CAPNP_HDR ${TRACERING_CAPNP_DIR}/control.capnp.h)
add_custom_command(
  OUTPUT ${TRACERING_CAPNP_SRC} ${TRACERING_CAPNP_HDR}
  COMMAND ${CAPNP_EXECUTABLE} compile
          -o ${CAPNPC_CXX_EXECUTABLE}:${TRACERING_CAPNP_DIR}
          --src-prefix ${CMAKE_CURRENT_SOURCE_DIR}/schemas
          -I ${CAPNP_INCLUDE_DIRECTORY}
          ${CMAKE_CURRENT_SOURCE_DIR}/schemas/control.capnp
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/schemas/control.capnp
  COMMENT "capnp: generating control.capnp.h"
  VERBATIM)

# Internal: the generated control-plane code, used by both libraries' control code.
add_library(tracering_control_schema STATIC ${TRACERING_CAPNP_SRC})
target_include_directories(tracering_control_schema PUBLIC
  $<BUILD_INTERFACE:${TRACERING_GENERATED_DIR}>)
# The installed package links Cap'n Proto's libraries by file, so that a project using it never
# loads CapnProto's own CMake package through tracering: Debian's (0.9.2) creates its targets
# without checking whether they exist, so loading it a second time in a subdirectory fails,
# and Bitcoin Core built with ENABLE_IPC loads it for libmultiprocess.
set(TRACERING_CAPNP_LIBRARY_FILES "")
foreach(_lib IN ITEMS capnp-rpc capnp kj-async kj)
  get_target_property(_file CapnProto::${_lib} IMPORTED_LOCATION)
  if(NOT _file)
    get_target_property(_file CapnProto::${_lib} IMPORTED_LOCATION_RELEASE)
  endif()
  if(NOT _file)
    message(FATAL_ERROR "CapnProto::${_lib} has no IMPORTED_LOCATION; cannot export its file")
  endif()
  list(APPEND TRACERING_CAPNP_LIBRARY_FILES ${_file})
endforeach()
target_link_libraries(tracering_control_schema PUBLIC
  $<BUILD_INTERFACE:CapnProto::capnp-rpc>
  "$<INSTALL_INTERFACE:${TRACERING_CAPNP_LIBRARY_FILES}>")
set_target_properties(tracering_control_schema PROPERTIES
  POSITION_INDEPENDENT_CODE ON EXPORT_NAME control_schema)
