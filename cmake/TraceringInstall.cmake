# Install and export rules, so another CMake project can use an installed tracering:
#
#   find_package(tracering 0.2 REQUIRED COMPONENTS producer)   # the node: std headers only
#   target_link_libraries(bitcoind PRIVATE tracering::producer)
#
#   find_package(tracering REQUIRED COMPONENTS consumer)       # readers: needs FlatBuffers
#   target_link_libraries(mytool PRIVATE tracering::consumer)
#
# Each component has its own export set (and so its own targets file), so that a project
# asking only for `producer` never loads, or needs, FlatBuffers. tracering::common is the
# internal static library both components depend on; it is exported because static libraries
# carry their link dependencies, but it is not a component of its own.
#
# tracering_flags (warnings, -Werror, sanitizers) is linked as $<BUILD_INTERFACE:...> only:
# it stays out of the export, and an installed tracering imposes no compile flags on its users.

include(CMakePackageConfigHelpers)

set(TRACERING_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/tracering"
    CACHE STRING "Where to install tracering's CMake package files, relative to the prefix.")
mark_as_advanced(TRACERING_INSTALL_CMAKEDIR)

# The components find_package(tracering COMPONENTS ...) accepts. Each one needs an export set
# tracering<Name>Targets below (Name = component with a capital first letter).
set(TRACERING_COMPONENTS producer consumer)

set_target_properties(tracering_common PROPERTIES EXPORT_NAME common)
set_target_properties(tracering_schemas PROPERTIES EXPORT_NAME schemas)
set_target_properties(tracering_producer PROPERTIES EXPORT_NAME producer)
set_target_properties(tracering_consumer PROPERTIES EXPORT_NAME consumer)

# --- Libraries ----------------------------------------------------------------------------

# The control plane's generated Cap'n Proto code is used by both libraries, so it travels
# with common; its headers stay private (no public header includes them).
install(TARGETS tracering_common tracering_control_schema
  EXPORT traceringCommonTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(TARGETS tracering_producer
  EXPORT traceringProducerTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The generated schema headers travel with the consumer: its public headers include them.
install(TARGETS tracering_consumer tracering_schemas
  EXPORT traceringConsumerTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(_set IN ITEMS Common Producer Consumer)
  install(EXPORT tracering${_set}Targets
    NAMESPACE tracering::
    FILE tracering${_set}Targets.cmake
    DESTINATION ${TRACERING_INSTALL_CMAKEDIR})
endforeach()

# --- Headers ------------------------------------------------------------------------------

# Public headers only: include/tracering/README.md and anything else that is not a header
# stays in the source tree.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tracering
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# Generated at build time (cmake/TraceringSchemas.cmake). Listed one by one, so a missing
# file fails the install instead of producing a package without it.
install(FILES ${TRACERING_FBS_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tracering/schemas)
install(FILES
  ${TRACERING_GENERATED_DIR}/tracering/schema_hash.h
  ${TRACERING_GENERATED_DIR}/tracering/catalogue_generated.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tracering)

# --- Package configuration ----------------------------------------------------------------

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/traceringConfig.cmake.in
  ${PROJECT_BINARY_DIR}/traceringConfig.cmake
  INSTALL_DESTINATION ${TRACERING_INSTALL_CMAKEDIR}
  NO_CHECK_REQUIRED_COMPONENTS_MACRO)

# 0.x releases share major version 0; bump the major version when the API breaks.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/traceringConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

install(FILES
  ${PROJECT_BINARY_DIR}/traceringConfig.cmake
  ${PROJECT_BINARY_DIR}/traceringConfigVersion.cmake
  DESTINATION ${TRACERING_INSTALL_CMAKEDIR})
