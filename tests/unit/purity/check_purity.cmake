# cmake -DCORE_DIR=<dir> -P check_purity.cmake
# Fails (FATAL_ERROR) listing every file:line under CORE_DIR that names something the sans-IO core must not
# use. Comments are not exempt on purpose: the names are distinctive and a mention usually means a use.
if(NOT CORE_DIR OR NOT IS_DIRECTORY "${CORE_DIR}")
  message(FATAL_ERROR "check_purity: CORE_DIR '${CORE_DIR}' is not a directory")
endif()

set(forbidden Q_OBJECT QTimer QUdpSocket QElapsedTimer "QDateTime::current" "steady_clock::now"
              "system_clock::now" QThread)

file(GLOB_RECURSE files "${CORE_DIR}/*.h" "${CORE_DIR}/*.hpp" "${CORE_DIR}/*.cpp" "${CORE_DIR}/*.cc")
if(NOT files)
  message(FATAL_ERROR "check_purity: no sources found under ${CORE_DIR}")
endif()

set(violations "")
foreach(f IN LISTS files)
  file(STRINGS "${f}" lines)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    foreach(word IN LISTS forbidden)
      string(FIND "${line}" "${word}" pos)
      if(NOT pos EQUAL -1)
        file(RELATIVE_PATH rel "${CORE_DIR}" "${f}")
        string(APPEND violations "  ${rel}:${n}: ${word}\n")
      endif()
    endforeach()
  endforeach()
endforeach()

list(LENGTH files count)
if(violations)
  message(FATAL_ERROR "the sans-IO core uses forbidden APIs:\n${violations}")
endif()
message(STATUS "check_purity: ${count} files clean")
