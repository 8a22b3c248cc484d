// libFuzzer target: see runNumberText() in fuzz_harness.hpp for what is checked.
#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::runNumberText(data, size);
    return 0;
}
