// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "p2p/endpoint.h"

#include <charconv>

#include <arpa/inet.h>

namespace tracering::p2p {

std::string Endpoint::ToString() const
{
    return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
           std::to_string(ip[3]) + ":" + std::to_string(port);
}

Result<Endpoint> ParseEndpoint(std::string_view text)
{
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return Error{ErrorCode::InvalidArgument,
                     "'" + std::string{text} + "' has no port (use e.g. 127.0.0.1:18444)"};
    }
    const std::string host{text.substr(0, colon)};
    Endpoint endpoint;
    if (::inet_pton(AF_INET, host.c_str(), endpoint.ip.data()) != 1) {
        return Error{ErrorCode::InvalidArgument,
                     "'" + host + "' is not an IPv4 address (use e.g. 127.0.0.1:18444)"};
    }
    const Result<uint64_t> port = ParseUnsigned(text.substr(colon + 1), 65535);
    if (!port) {
        return Error{ErrorCode::InvalidArgument,
                     "bad port in '" + std::string{text} + "': " + port.error().message()};
    }
    endpoint.port = static_cast<uint16_t>(port.value());
    return endpoint;
}

Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t max)
{
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
        return Error{ErrorCode::InvalidArgument, "'" + std::string{text} + "' is not a number"};
    }
    if (ec == std::errc::result_out_of_range || value > max) {
        return Error{ErrorCode::InvalidArgument,
                     std::string{text} + " is more than " + std::to_string(max)};
    }
    return value;
}

} // namespace tracering::p2p
