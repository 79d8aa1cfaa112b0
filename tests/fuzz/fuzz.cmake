# libFuzzer harnesses (tests/fuzz/*.c), included by the top-level CMakeLists.txt when
# SLUICE_FUZZ is ON. Needs clang (CC=clang or -DCMAKE_C_COMPILER=clang): libFuzzer ships with
# it. tests/fuzz/run.sh configures, builds (`--target fuzz_all`) and runs them.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SLUICE_FUZZ=ON needs clang (configure with -DCMAKE_C_COMPILER=clang)")
endif()

# The libraries are instrumented for coverage and checked by ASan and UBSan; every UBSan finding
# aborts, so the fuzzer reports it as a crash. Anything linking them gets the sanitizer
# runtimes (the coverage callbacks live there), so the rest of the build still links.
set(SLUICE_FUZZ_CFLAGS -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
foreach(layer ${SLUICE_LAYERS})
  target_compile_options(${layer} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                         ${SLUICE_FUZZ_CFLAGS})
  target_link_options(${layer} INTERFACE -fsanitize=address,undefined)
endforeach()
# The line reader reads 64 KiB at a time here instead of 1 MiB: under ASan every 1 MiB buffer is
# a fresh mapping with fresh shadow memory, which made the reader harnesses ten times slower.
# Inputs under 64 KiB (libFuzzer's are 4 KiB unless -max_len says otherwise) take the same path
# with either size: the whole input in one read.
target_compile_definitions(sl_io PRIVATE SL_READER_BLOCK=65536)

add_custom_target(fuzz_all)

# A second copy of the line reader with 64-byte reads, its public names prefixed sl_reader64_,
# so that the reader harnesses can run every input through both and compare: line and block
# boundaries then fall everywhere in small inputs.
add_library(fuzz_reader64 OBJECT ${CMAKE_SOURCE_DIR}/host/io/reader.c)
target_link_libraries(fuzz_reader64 PRIVATE sluice_core)
target_compile_options(fuzz_reader64 PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                       ${SLUICE_FUZZ_CFLAGS})
target_compile_definitions(fuzz_reader64 PRIVATE
  SL_READER_BLOCK=64
  sl_format_parse=sl_reader64_format_parse
  sl_reader_new=sl_reader64_new
  sl_reader_on_bad=sl_reader64_on_bad
  sl_reader_read=sl_reader64_read
  sl_reader_stats=sl_reader64_stats
  sl_reader_at_end=sl_reader64_at_end
  sl_reader_fd=sl_reader64_fd
  sl_reader_destroy=sl_reader64_destroy
  sl_reader_new_chunked=sl_reader64_new_chunked
  sl_reader_set_wait=sl_reader64_set_wait
  sl_reader_room=sl_reader64_room
  sl_reader_commit=sl_reader64_commit
  sl_reader_feed=sl_reader64_feed
  sl_reader_end=sl_reader64_end
  sl_reader_pending=sl_reader64_pending
  sl_reader_resume=sl_reader64_resume
  sl_reader_set_schema=sl_reader64_set_schema
  sl_reader_error=sl_reader64_error
  sl_reader_restart=sl_reader64_restart
  sl_reader_reserve=sl_reader64_reserve
  sl_reader_attrs=sl_reader64_attrs)

function(sluice_fuzz_target name)
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/${name}.c ${ARGN})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined ${SLUICE_FUZZ_CFLAGS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE sluice_core)
  add_dependencies(fuzz_all ${name})
endfunction()

sluice_fuzz_target(fuzz_ndjson $<TARGET_OBJECTS:fuzz_reader64>)
sluice_fuzz_target(fuzz_csv $<TARGET_OBJECTS:fuzz_reader64>)
sluice_fuzz_target(fuzz_schema $<TARGET_OBJECTS:fuzz_reader64>)
sluice_fuzz_target(fuzz_topology)
sluice_fuzz_target(fuzz_cluster)
sluice_fuzz_target(fuzz_frame)
sluice_fuzz_target(fuzz_job)

# Writes the binary seeds (encoded frames and jobs) of this build: run.sh adds them to the
# corpus copy, so the job seeds stay valid when the job format changes.
add_executable(fuzz_seeds ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_seeds.c)
target_link_libraries(fuzz_seeds PRIVATE sluice_core)
add_dependencies(fuzz_all fuzz_seeds)
