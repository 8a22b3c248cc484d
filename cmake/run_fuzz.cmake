# Runs one libFuzzer target for a short, bounded time (used by the fuzz_<name> ctest tests).
# cmake -DFUZZER=... -DCORPUS=... -DARTIFACTS=... [-DSEED_DIR=...] [-DSEED_DIR_ALT=...] [-DDICT=...]
#       -DSECONDS=20 -DRSS_MB=2048 -P run_fuzz.cmake
# New inputs go to CORPUS (build dir); seed dirs from the source tree are read-only extra corpora.
# Env SYNCORE_SEED (digits) is passed as -seed=; the default is 1, so the suite's runs are reproducible.
foreach(_v FUZZER CORPUS ARTIFACTS SECONDS RSS_MB)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${_v}= is required")
  endif()
endforeach()

file(MAKE_DIRECTORY "${CORPUS}" "${ARTIFACTS}")
set(_args "-max_total_time=${SECONDS}" "-rss_limit_mb=${RSS_MB}" "-timeout=25" "-print_final_stats=1"
          "-artifact_prefix=${ARTIFACTS}/")
# A fixed default seed keeps the suite's fuzz runs the same on every machine (a slower one only stops
# earlier), so CI does not flip on luck; explore further with SYNCORE_SEED=<n> (digits, 32-bit).
set(_seed 1)
if(DEFINED ENV{SYNCORE_SEED} AND "$ENV{SYNCORE_SEED}" MATCHES "^[0-9]+$")
  string(LENGTH "$ENV{SYNCORE_SEED}" _len)
  if(_len LESS 10)
    set(_seed "$ENV{SYNCORE_SEED}")
  endif()
endif()
message(STATUS "fuzz seed ${_seed} (set SYNCORE_SEED to explore other runs)")
list(APPEND _args "-seed=${_seed}")
if(DICT AND EXISTS "${DICT}")
  list(APPEND _args "-dict=${DICT}")
endif()
list(APPEND _args "${CORPUS}")
foreach(_d IN ITEMS "${SEED_DIR}" "${SEED_DIR_ALT}")
  if(_d AND IS_DIRECTORY "${_d}")
    list(APPEND _args "${_d}")
  endif()
endforeach()

string(REPLACE ";" " " _shown "${_args}")
message(STATUS "${FUZZER} ${_shown}")
execute_process(COMMAND "${FUZZER}" ${_args} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  file(GLOB _found "${ARTIFACTS}/*")
  message(FATAL_ERROR "fuzzer failed (exit ${_rc}); artifacts: ${_found}\n"
                      "reproduce: ${FUZZER} <artifact>; keep a fixed crasher in tests/fuzz-crashers/")
endif()
