# Runs one libFuzzer target for a short, bounded time (used by the fuzz_<name> ctest tests).
# cmake -DFUZZER=... -DCORPUS=... -DARTIFACTS=... [-DSEED_DIR=...] [-DSEED_DIR_ALT=...] [-DDICT=...]
#       -DSECONDS=20 -DRSS_MB=2048 -P run_fuzz.cmake
# New inputs go to CORPUS (build dir); seed dirs from the source tree are read-only extra corpora.
# Env SYNCORE_SEED (digits) is passed as -seed= for reproducible runs.
foreach(_v FUZZER CORPUS ARTIFACTS SECONDS RSS_MB)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "run_fuzz.cmake: -D${_v}= is required")
  endif()
endforeach()

file(MAKE_DIRECTORY "${CORPUS}" "${ARTIFACTS}")
set(_args "-max_total_time=${SECONDS}" "-rss_limit_mb=${RSS_MB}" "-timeout=25" "-print_final_stats=1"
          "-artifact_prefix=${ARTIFACTS}/")
if(DEFINED ENV{SYNCORE_SEED} AND "$ENV{SYNCORE_SEED}" MATCHES "^[0-9]+$")
  list(APPEND _args "-seed=$ENV{SYNCORE_SEED}")
endif()
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
