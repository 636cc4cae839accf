# cmake -DBUILD_DIR=.. -DAPP_DIR=.. -DWORK_DIR=.. -DGENERATOR=.. -DCXX=.. -P install_test.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "FAILED (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

function(check_output what)
  string(STRIP "${LAST_OUTPUT}" line)
  # "<43-char base64url PeerId> <port>"
  if(NOT line MATCHES "^[A-Za-z0-9_-]+ [0-9]+$")
    message(FATAL_ERROR "${what}: unexpected output '${line}'")
  endif()
  string(REGEX REPLACE " .*" "" peer "${line}")
  string(LENGTH "${peer}" n)
  if(NOT n EQUAL 43)
    message(FATAL_ERROR "${what}: PeerId '${peer}' is not 43 characters")
  endif()
  message(STATUS "${what}: ${line}")
endfunction()

# An instrumented libsss needs an instrumented application (the ASan runtime must come first).
set(san_flags "")
if(SANITIZE)
  set(san_flags -fsanitize=address,undefined)
endif()
string(JOIN " " san_string ${san_flags})

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --component sss --prefix ${prefix})

# Only the public API may be installed: no private or core headers.
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(h IN LISTS headers)
  if(h MATCHES "_p\\.h$" OR NOT h MATCHES "^sss/")
    message(FATAL_ERROR "unexpected installed header: ${h}")
  endif()
endforeach()
if(NOT EXISTS ${prefix}/include/sss/stream.h)
  message(FATAL_ERROR "sss/stream.h was not installed")
endif()
file(GLOB libdirs ${prefix}/lib*/libsss.so ${prefix}/lib/*/libsss.so)
list(LENGTH libdirs nlibs)
if(NOT nlibs EQUAL 1)
  message(FATAL_ERROR "expected one installed libsss.so, found: ${libdirs}")
endif()
list(GET libdirs 0 lib)
get_filename_component(libdir ${lib} DIRECTORY)

# 1. CMake package.
run(${CMAKE_COMMAND} -S ${APP_DIR} -B ${WORK_DIR}/build-cmake -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${san_string}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build-cmake)
run(${WORK_DIR}/build-cmake/sss-outside-app)
check_output("find_package(Sss)")

# 2. pkg-config.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${libdir}/pkgconfig)
run(${PKG_CONFIG} --cflags --libs sss)
string(STRIP "${LAST_OUTPUT}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CXX} -std=c++17 -fPIC ${san_flags} ${APP_DIR}/main.cpp -o ${WORK_DIR}/outside-pkgconfig ${flags} -Wl,-rpath,${libdir})
run(${WORK_DIR}/outside-pkgconfig)
check_output("pkg-config")
