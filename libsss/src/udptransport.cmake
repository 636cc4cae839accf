# sss_udp: the Qt edge's UDP data path (UdpTransport). Included from libsss/src/CMakeLists.txt; tests
# include it themselves (guarded by if(NOT TARGET sss_udp)) until then.
add_library(sss_udp STATIC ${CMAKE_CURRENT_LIST_DIR}/udptransport.cpp ${CMAKE_CURRENT_LIST_DIR}/udptransport.h)
set_target_properties(sss_udp PROPERTIES AUTOMOC ON)
target_include_directories(sss_udp PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(sss_udp PUBLIC Qt6::Core Qt6::Network sss_core_common PRIVATE sss_build_flags sss_lto_compile)
if(SSS_CALLGRIND_MARKERS)
  find_path(SSS_VALGRIND_INCLUDE valgrind/callgrind.h REQUIRED)
  target_include_directories(sss_udp PRIVATE ${SSS_VALGRIND_INCLUDE})
  target_compile_definitions(sss_udp PRIVATE SSS_CALLGRIND_MARKERS)
endif()
