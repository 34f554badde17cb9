// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/result.h>

namespace tracering {

std::string_view ToString(ErrorCode code) noexcept
{
    switch (code) {
    case ErrorCode::InvalidArgument:
        return "invalid argument";
    case ErrorCode::NotFound:
        return "not found";
    case ErrorCode::PermissionDenied:
        return "permission denied";
    case ErrorCode::AlreadyExists:
        return "already exists";
    case ErrorCode::Stale:
        return "stale";
    case ErrorCode::NotReady:
        return "not ready";
    case ErrorCode::VersionMismatch:
        return "version mismatch";
    case ErrorCode::Corrupt:
        return "corrupt";
    case ErrorCode::Busy:
        return "busy";
    case ErrorCode::Detached:
        return "detached";
    case ErrorCode::SystemError:
        return "system error";
    }
    return "unknown error";
}

} // namespace tracering
