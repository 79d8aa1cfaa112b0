# The benchmark suite (bench/README.md): sluice-bench, with its baselines (plain C, pthreads,
# Redis through hiredis) in the same run. Included by the top-level CMakeLists.txt.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

# bench/common.c (clock, row collection, temporary files, option parsing) is shared by every
# bench program, and by the tests (the top-level CMakeLists.txt adds it to their helpers).
foreach(prog bench_ctr bench_cluster bench_devices gen_events)
  target_sources(${prog} PRIVATE ${CMAKE_SOURCE_DIR}/bench/common.c)
endforeach()

add_executable(sluice-bench
  ${CMAKE_SOURCE_DIR}/bench/suite.c
  ${CMAKE_SOURCE_DIR}/bench/common.c
  ${CMAKE_SOURCE_DIR}/bench/baselines.c
  ${CMAKE_SOURCE_DIR}/bench/ysb.c
  ${CMAKE_SOURCE_DIR}/bench/redisbase.c
  ${CMAKE_SOURCE_DIR}/bench/report.c
  ${CMAKE_SOURCE_DIR}/bench/sluicerun.c
  ${CMAKE_SOURCE_DIR}/bench/nodes.c
  ${CMAKE_SOURCE_DIR}/bench/filerun.c
  ${CMAKE_SOURCE_DIR}/bench/procrun.c
  ${CMAKE_SOURCE_DIR}/bench/callgrind.c
  ${CMAKE_SOURCE_DIR}/bench/insnsrun.c)
target_link_libraries(sluice-bench PRIVATE sluice_core PkgConfig::HIREDIS Threads::Threads m)
target_compile_definitions(sluice-bench PRIVATE
  SLUICE_BIN="$<TARGET_FILE:sluice>"
  NDJSON_CTR_BIN="$<TARGET_FILE:ndjson_ctr>"
  GEN_EVENTS_BIN="$<TARGET_FILE:gen_events>"
  BENCH_INSNS_BIN="$<TARGET_FILE:bench_insns>"
  SLUICE_BENCH_PLOTS="${CMAKE_SOURCE_DIR}/bench/plots"
  SLUICE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_dependencies(sluice-bench sluice bench_insns)

# bench_insns: one ctr system's run, made to be counted by callgrind (sluice-bench's insns
# workload runs it under valgrind). Without valgrind's client-request header (Debian's valgrind
# package) it builds as a plain run, and the workload is skipped for want of valgrind anyway.
include(CheckIncludeFile)
check_include_file(valgrind/callgrind.h SLUICE_HAVE_CALLGRIND_H)
add_executable(bench_insns ${CMAKE_SOURCE_DIR}/bench/insns.c ${CMAKE_SOURCE_DIR}/bench/common.c
  ${CMAKE_SOURCE_DIR}/bench/baselines.c ${CMAKE_SOURCE_DIR}/bench/sluicerun.c
  ${CMAKE_SOURCE_DIR}/bench/ysb.c)
target_link_libraries(bench_insns PRIVATE sluice_core Threads::Threads m)
if(SLUICE_HAVE_CALLGRIND_H)
  target_compile_definitions(bench_insns PRIVATE SLUICE_HAVE_CALLGRIND_H=1)
endif()

# The quick mode as a test: small inputs, 1-2 repetitions, under a minute; it fails when any
# baseline's results differ from sluice's, never on speed. Not in sanitizer builds (Redis,
# PoCL and a minute of work under ASan add nothing to the unit tests there).
if(SLUICE_TESTS AND NOT SLUICE_SANITIZE)
  add_test(NAME sluice_bench_quick
           COMMAND sluice-bench --quick --no-progress --out ${CMAKE_BINARY_DIR}/bench-quick)
  set_tests_properties(sluice_bench_quick PROPERTIES TIMEOUT 300
    ENVIRONMENT "POCL_CACHE_DIR=${CMAKE_BINARY_DIR}/pocl-cache")
endif()

# Visibility latency of a live stream (bench/README.md, "Live latency").
add_executable(live_latency ${CMAKE_SOURCE_DIR}/bench/live_latency.c)
target_link_libraries(live_latency PRIVATE Threads::Threads)
target_compile_definitions(live_latency PRIVATE SLUICE_BIN="$<TARGET_FILE:sluice>")

# Ingest through the zmq and tcp sources against a file (bench/README.md, "Live ingest").
add_executable(ingest_live ${CMAKE_SOURCE_DIR}/bench/ingest_live.c)
target_link_libraries(ingest_live PRIVATE PkgConfig::ZMQ Threads::Threads)
target_compile_definitions(ingest_live PRIVATE SLUICE_BIN="$<TARGET_FILE:sluice>")

# ckpt_cost: what checkpoints cost a one-process run (bench/README.md, "Checkpoints")
add_executable(ckpt_cost ${CMAKE_SOURCE_DIR}/bench/ckpt_cost.c)
target_compile_definitions(ckpt_cost PRIVATE SLUICE_BIN="$<TARGET_FILE:sluice>"
                           GEN_EVENTS_BIN="$<TARGET_FILE:gen_events>")
add_dependencies(ckpt_cost sluice gen_events)

# recovery_time: a node of --nodes 3 killed, recovery split into detection, restore, catch-up
# (bench/README.md, "Recovery time")
add_executable(recovery_time ${CMAKE_SOURCE_DIR}/bench/recovery_time.c)
add_dependencies(recovery_time sluice)

# sluice-scale: per-event costs of a node with ingest on every node, measured with sluice's own
# code, and a model of the cluster's throughput to 16 nodes built on them (bench/SCALING.md)
add_executable(sluice-scale ${CMAKE_SOURCE_DIR}/bench/scale_model.c
  ${CMAKE_SOURCE_DIR}/bench/common.c)
target_link_libraries(sluice-scale PRIVATE sluice_core PkgConfig::ZMQ m)
target_compile_definitions(sluice-scale PRIVATE GEN_EVENTS_BIN="$<TARGET_FILE:gen_events>")
add_dependencies(sluice-scale gen_events)

# ndjson_ctr: the hand-written one-thread NDJSON CTR counter that sluice-bench's file workload
# runs as a whole process beside `sluice ctr` (bench/README.md, "file"). libc only.
add_executable(ndjson_ctr ${CMAKE_SOURCE_DIR}/bench/ndjson_ctr.c)
add_dependencies(sluice-bench ndjson_ctr gen_events)
