# Build-time script (cmake -P): asks a doctest binary for its test cases and
# writes a CTest file registering one CTest test per TEST_CASE.
#
# Used instead of doctest_discover_tests, whose script turns the listing into a
# CMake list: a TEST_CASE name holding ';' became several CTest tests, each
# selecting a test case that does not exist, which doctest counts as a pass.
# Here the listing is cut at newlines only, names are written as bracket
# arguments, and a test that selects no test case fails.
#
# Inputs (-D): EXECUTABLE, WORKING_DIRECTORY, OUTPUT (the CTest file), TIMEOUT (seconds).

foreach(var EXECUTABLE WORKING_DIRECTORY OUTPUT TIMEOUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "discover_doctest_cases.cmake: ${var} is not set")
  endif()
endforeach()

execute_process(
  COMMAND "${EXECUTABLE}" --list-test-cases --no-version
  WORKING_DIRECTORY "${WORKING_DIRECTORY}"
  OUTPUT_VARIABLE listing
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} --list-test-cases failed (${status}):\n${listing}")
endif()

# The listing is framed by "[doctest] ..." lines and "=====" rules; every other
# non-empty line is one test case name.
set(script "")
set(count 0)
string(LENGTH "${listing}" rest_length)
while(rest_length GREATER 0)
  string(FIND "${listing}" "\n" newline)
  if(newline EQUAL -1)
    set(line "${listing}")
    set(listing "")
  else()
    string(SUBSTRING "${listing}" 0 ${newline} line)
    math(EXPR next "${newline} + 1")
    string(SUBSTRING "${listing}" ${next} -1 listing)
  endif()
  string(LENGTH "${listing}" rest_length)
  if(line STREQUAL "" OR line MATCHES "^\\[doctest\\] " OR line MATCHES "^=+$")
    continue()
  endif()
  if(line MATCHES "]=====]")
    message(FATAL_ERROR "test case name not representable in a CTest file: ${line}")
  endif()
  # doctest splits a --test-case filter at commas, unless escaped.
  string(REPLACE "," "\\," filter "${line}")
  string(APPEND script
    "add_test([=====[${line}]=====] \"${EXECUTABLE}\" [=====[--test-case=${filter}]=====])\n"
    "set_tests_properties([=====[${line}]=====] PROPERTIES WORKING_DIRECTORY \"${WORKING_DIRECTORY}\""
    " TIMEOUT ${TIMEOUT} FAIL_REGULAR_EXPRESSION \"test cases: +0 [|]\")\n")
  math(EXPR count "${count} + 1")
endwhile()
if(count EQUAL 0)
  message(FATAL_ERROR "${EXECUTABLE} lists no test case")
endif()
file(WRITE "${OUTPUT}" "${script}")
