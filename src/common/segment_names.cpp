// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Segment naming, shared by producers and consumers (declared in tracering/producer.h).

#include <tracering/producer.h>

#include <string>

namespace tracering {

std::string SegmentObjectName(const std::string& name) { return "tracering." + name; }

Result<void> ValidateSegmentName(const std::string& name)
{
    if (name.empty() || name.size() > 48) {
        return Error{ErrorCode::InvalidArgument,
                     "segment name '" + name + "' must be 1 to 48 characters long"};
    }
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return Error{ErrorCode::InvalidArgument,
                         "segment name '" + name + "' contains '" + std::string(1, c) +
                             "'; use only letters, digits, '.', '_' and '-'"};
        }
    }
    return {};
}

} // namespace tracering
