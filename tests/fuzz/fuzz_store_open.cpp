// libFuzzer target: see runStoreOpen() in fuzz_harness.hpp for the input layout and what is checked.
#include <unistd.h>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // One directory per process (libFuzzer -jobs/-fork run several), emptied before and after each input.
    // tmpfs when there is one: every input writes and renames several files (3x the exec/s of a disk /tmp).
    static const std::string dir = [] {
        std::error_code ec;
        std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                         ? std::filesystem::path("/dev/shm")
                                         : std::filesystem::temp_directory_path();
        return (base / ("syncore-fuzz-store-" + std::to_string(::getpid()))).string();
    }();
    fuzz::runStoreOpen(data, size, dir);
    return 0;
}
