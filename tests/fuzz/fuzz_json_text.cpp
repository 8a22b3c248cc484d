// libFuzzer target: see runJsonText() in fuzz_harness.hpp for what is checked.
#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::runJsonText(data, size);
    return 0;
}
