# The Python module's tests (tests/python/*.py, pytest), one CTest per test file, against real
# tracering-testnode, tracering-loadgen, ringdump and tracering_test_helper processes. Included from
# tests/CMakeLists.txt when the module is built (python/CMakeLists.txt).            label python

file(GLOB _python_tests RELATIVE ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_CURRENT_LIST_DIR}/test_*.py)
# The extractor's tests need the extractor, not the module: extractor.cmake registers them.
list(REMOVE_ITEM _python_tests test_extractor.py)
foreach(_file ${_python_tests})
  get_filename_component(_name ${_file} NAME_WE)
  add_test(NAME Python.${_name}
    COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${_file}
    WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(Python.${_name} PROPERTIES
    LABELS python
    TIMEOUT 300
    ENVIRONMENT "PYTHONPATH=${PROJECT_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1;TRACERING_TESTNODE=$<TARGET_FILE:tracering-testnode>;TRACERING_LOADGEN=$<TARGET_FILE:tracering-loadgen>;TRACERING_RINGDUMP=$<TARGET_FILE:ringdump>;TRACERING_TEST_HELPER=$<TARGET_FILE:tracering_test_helper>")
endforeach()
