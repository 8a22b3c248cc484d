#pragma once
// Typed errors of the core. Every public entry point reports failure by throwing syncore::Error,
// and leaves the store unchanged. The bindings turn an Error into a JS Error/TypeError/RangeError.
// Keep ErrorCode in step with js/errors.mjs (codes are part of the public API).
#include <stdexcept>
#include <string>

namespace syncore {

enum class ErrorCode : int {
    InvalidArgument = 1, // bad argument from the caller (JS: TypeError)
    OutOfRange = 2,      // a number or size outside what is allowed (JS: RangeError)
    NotFound = 3,        // document, conflict or snapshot does not exist
    Decode = 4,          // bytes that are not a valid encoding (wire, journal, snapshot)
    Storage = 5,         // file I/O failed
    ClockSkew = 6,       // a change is stamped too far in the future
    LimitExceeded = 7,   // a configured limit (document size, batch size) was exceeded
    ReadOnly = 8,        // the store may not be written (outdated schema, viewer)
    Internal = 9,        // an invariant of the core was broken (a bug)
};

const char *errorCodeName(ErrorCode code) noexcept;

class Error : public std::runtime_error {
  public:
    Error(ErrorCode code, const std::string &message) : std::runtime_error(message), m_code(code) {}
    ErrorCode code() const noexcept { return m_code; }

  private:
    ErrorCode m_code;
};

[[noreturn]] void fail(ErrorCode code, const std::string &message);

} // namespace syncore
