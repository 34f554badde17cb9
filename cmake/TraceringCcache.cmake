# Compiles through ccache when it is installed, so that a rebuild in another clone of the
# repository (CI clones afresh for every run) reuses what an earlier build compiled.
#
# A cached result is reused across folders only if nothing in the compile's hash names the
# folder. Two things do by default: the absolute paths CMake puts on the command line (the
# source file, -I of the generated headers) and, with -g, the working directory. The launcher
# therefore runs ccache with
#   CCACHE_BASEDIR    the nearest folder holding both the sources and the build folder: paths
#                     under it are hashed relative to the working directory;
#   CCACHE_NOHASHDIR  the working directory is not hashed. The price: an object file taken
#                     from the cache names the folder it was first compiled in as its
#                     compilation directory (DW_AT_comp_dir) in its debug information.
# The compiler's output is otherwise the same as without ccache.
#
# -DTRACERING_CCACHE=OFF compiles without it; a CMAKE_<LANG>_COMPILER_LAUNCHER given on the
# command line is kept as it is.

option(TRACERING_CCACHE "Compile through ccache when it is installed." ${PROJECT_IS_TOP_LEVEL})

# The longest folder that contains both `a` and `b` (absolute paths); empty if that is /.
function(tracering_common_folder a b out)
  set(common "${a}")
  while(NOT common STREQUAL "/")
    cmake_path(IS_PREFIX common "${b}" NORMALIZE inside)
    if(inside)
      break()
    endif()
    cmake_path(GET common PARENT_PATH common)
  endwhile()
  if(common STREQUAL "/")
    set(common "")
  endif()
  set(${out} "${common}" PARENT_SCOPE)
endfunction()

if(TRACERING_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER AND NOT CMAKE_C_COMPILER_LAUNCHER)
  find_program(TRACERING_CCACHE_EXECUTABLE ccache)
  mark_as_advanced(TRACERING_CCACHE_EXECUTABLE)
  if(TRACERING_CCACHE_EXECUTABLE)
    tracering_common_folder("${CMAKE_SOURCE_DIR}" "${CMAKE_BINARY_DIR}" base)
    set(launcher env CCACHE_NOHASHDIR=1)
    if(base)
      list(APPEND launcher "CCACHE_BASEDIR=${base}")
      set(where "paths hashed relative to ${base}")
    else()
      set(where "absolute paths hashed (the build folder and the sources share no folder but /)")
    endif()
    list(APPEND launcher "${TRACERING_CCACHE_EXECUTABLE}")
    set(CMAKE_C_COMPILER_LAUNCHER ${launcher})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${launcher})
    message(STATUS "Compiling through ${TRACERING_CCACHE_EXECUTABLE}, ${where} "
                   "(-DTRACERING_CCACHE=OFF: without it)")
  endif()
endif()
