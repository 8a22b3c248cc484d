#include "syncore/error.hpp"

namespace syncore {

const char *errorCodeName(ErrorCode code) noexcept {
    switch (code) {
    case ErrorCode::InvalidArgument:
        return "INVALID_ARGUMENT";
    case ErrorCode::OutOfRange:
        return "OUT_OF_RANGE";
    case ErrorCode::NotFound:
        return "NOT_FOUND";
    case ErrorCode::Decode:
        return "DECODE";
    case ErrorCode::Storage:
        return "STORAGE";
    case ErrorCode::ClockSkew:
        return "CLOCK_SKEW";
    case ErrorCode::LimitExceeded:
        return "LIMIT_EXCEEDED";
    case ErrorCode::ReadOnly:
        return "READ_ONLY";
    case ErrorCode::Internal:
        return "INTERNAL";
    }
    return "UNKNOWN";
}

void fail(ErrorCode code, const std::string &message) { throw Error(code, message); }

} // namespace syncore
