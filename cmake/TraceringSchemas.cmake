# Generates C++ headers from schemas/*.fbs at build time (Debian's FlatBuffers 2.0.8 ships no
# CMake generator function), the binary schema (.bfbs) the producer copies into its segment,
# and from it the event catalogue (src/catalogue/catalogue_gen.cpp): the .fbs files are the
# only place an event is declared.

set(TRACERING_FBS_NAMES common net mempool utxocache validation coin_selection)

# The catalogue generator runs on the build machine.
add_executable(tracering_catalogue_gen
  ${CMAKE_CURRENT_SOURCE_DIR}/src/catalogue/catalogue_gen.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/catalogue/catalogue.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/common/result.cpp)
target_include_directories(tracering_catalogue_gen PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(tracering_catalogue_gen PRIVATE flatbuffers::flatbuffers)
target_compile_features(tracering_catalogue_gen PRIVATE cxx_std_20)

# tracering_generate_schemas(<target> <out_dir> <schema_dir>...)
#
# Generates one schema set into <out_dir>: each of TRACERING_FBS_NAMES is taken from the
# first <schema_dir> that has it (a test can override one file and keep the others), and
# defines two INTERFACE targets:
#   <target>            the generated FlatBuffers headers (tracering/schemas.h needs them);
#   <target>_catalogue  tracering/catalogue_generated.h and schema_hash.h only, no FlatBuffers
#                       (what tracering/events.h includes on the producer side).
# Sets <target>_FBS_FILES, <target>_HEADERS, <target>_BFBS and <target>_DIR in the caller.
function(tracering_generate_schemas target out_dir)
  set(schema_dirs ${ARGN})
  set(include_args)
  foreach(dir IN LISTS schema_dirs)
    list(APPEND include_args -I ${dir})
  endforeach()
  set(gen_dir ${out_dir}/tracering/schemas)
  file(MAKE_DIRECTORY ${gen_dir} ${out_dir}/tracering/detail)

  set(fbs_files)
  foreach(name IN LISTS TRACERING_FBS_NAMES)
    set(found "")
    foreach(dir IN LISTS schema_dirs)
      if(NOT found AND EXISTS ${dir}/${name}.fbs)
        set(found ${dir}/${name}.fbs)
      endif()
    endforeach()
    if(NOT found)
      message(FATAL_ERROR "schema ${name}.fbs is in none of: ${schema_dirs}")
    endif()
    list(APPEND fbs_files ${found})
  endforeach()

  set(headers)
  foreach(fbs IN LISTS fbs_files)
    get_filename_component(name ${fbs} NAME_WE)
    set(out ${gen_dir}/${name}_generated.h)
    list(APPEND headers ${out})
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${FLATC_EXECUTABLE} --cpp --scoped-enums
              --include-prefix tracering/schemas ${include_args}
              -o ${gen_dir} ${fbs}
      DEPENDS ${fbs_files}
      COMMENT "flatc: generating ${name}_generated.h (${target})"
      VERBATIM)
  endforeach()

  # One root file includes every schema; flatc resolves each through the same search path.
  set(root_text "")
  foreach(name IN LISTS TRACERING_FBS_NAMES)
    string(APPEND root_text "include \"${name}.fbs\";\n")
  endforeach()
  set(root ${out_dir}/tracering_events.fbs)
  file(CONFIGURE OUTPUT ${root} CONTENT "${root_text}")
  set(bfbs ${out_dir}/tracering_events.bfbs)
  add_custom_command(
    OUTPUT ${bfbs}
    COMMAND ${FLATC_EXECUTABLE} --binary --schema ${include_args} -o ${out_dir} ${root}
    DEPENDS ${root} ${fbs_files}
    COMMENT "flatc: generating tracering_events.bfbs (${target})"
    VERBATIM)
  set(catalogue ${out_dir}/tracering/catalogue_generated.h)
  set(schema_bytes ${out_dir}/tracering/detail/schema_bytes.h)
  add_custom_command(
    OUTPUT ${catalogue} ${schema_bytes}
    COMMAND tracering_catalogue_gen ${bfbs} ${catalogue} ${schema_bytes}
    DEPENDS ${bfbs} tracering_catalogue_gen
    COMMENT "tracering_catalogue_gen: event catalogue of ${target}"
    VERBATIM)
  add_custom_target(${target}_gen DEPENDS ${headers} ${catalogue} ${schema_bytes})

  # The schema hash identifies a schema set (shown by tools, stored in captures): CMake's
  # SHA-256 over the .fbs files in a fixed order, cut to 64 bits. Reconfiguring follows edits.
  set(schema_text "")
  foreach(fbs IN LISTS fbs_files)
    file(READ ${fbs} one)
    string(APPEND schema_text "${one}")
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${fbs_files})
  string(SHA256 schema_sha "${schema_text}")
  string(SUBSTRING "${schema_sha}" 0 16 TRACERING_SCHEMA_HASH)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/schema_hash.h.in
                 ${out_dir}/tracering/schema_hash.h @ONLY)

  add_library(${target}_catalogue INTERFACE)
  add_dependencies(${target}_catalogue ${target}_gen)
  target_include_directories(${target}_catalogue INTERFACE $<BUILD_INTERFACE:${out_dir}>)

  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_gen)
  target_include_directories(${target} INTERFACE
    $<BUILD_INTERFACE:${out_dir}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} INTERFACE flatbuffers::flatbuffers)

  set(${target}_FBS_FILES ${fbs_files} PARENT_SCOPE)
  set(${target}_HEADERS ${headers} PARENT_SCOPE)
  set(${target}_BFBS ${bfbs} PARENT_SCOPE)
  set(${target}_DIR ${out_dir} PARENT_SCOPE)
endfunction()

# The schema set everything is built with (installed with the consumer).
set(TRACERING_GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated)
tracering_generate_schemas(tracering_schemas ${TRACERING_GENERATED_DIR}
  ${CMAKE_CURRENT_SOURCE_DIR}/schemas)
set(TRACERING_FBS_FILES ${tracering_schemas_FBS_FILES})
set(TRACERING_FBS_HEADERS ${tracering_schemas_HEADERS})

# The control plane's Cap'n Proto code, generated at build time. Debian's CapnProto package
# points its compiler target at a wrong path, so the compiler is called directly through
# CAPNP_EXECUTABLE instead of capnp_generate_cpp().
find_package(CapnProto REQUIRED)
# Its own folder: a test's second schema set (tracering_generate_schemas) must not see the
# first one's headers through the control schema's include path.
set(TRACERING_CAPNP_ROOT ${CMAKE_CURRENT_BINARY_DIR}/generated-control)
# Builds before that generated it into generated/tracering/control, which is earlier on the
# include path and would shadow the current header in an old build tree.
file(REMOVE_RECURSE ${TRACERING_GENERATED_DIR}/tracering/control)
set(TRACERING_CAPNP_DIR ${TRACERING_CAPNP_ROOT}/tracering/control)
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
  $<BUILD_INTERFACE:${TRACERING_CAPNP_ROOT}>)
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
