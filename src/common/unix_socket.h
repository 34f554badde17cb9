// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_UNIX_SOCKET_H
#define TRACERING_COMMON_UNIX_SOCKET_H

//! Unix-domain sockets for the control plane: creating the listening socket with exact
//! permissions, connecting with precise errors, and asking who is on the other end.

#include <tracering/result.h>

#include <cstdint>
#include <string>

namespace tracering::detail {

//! Binds and listens on `path`, mode `mode` (and group `group` if >= 0). A leftover socket
//! nobody listens on is replaced; a live one, or a path that is not a socket, is an error.
//! Returns the listening fd (close-on-exec, blocking).
Result<int> ListenUnix(const std::string& path, uint32_t mode, int64_t group);

//! Connects to `path`; errors say whether nothing is there, nobody listens, or access is
//! denied. Returns the connected fd (close-on-exec, blocking).
Result<int> ConnectUnix(const std::string& path);

struct PeerCredentials {
    uint64_t pid{0};
    uint64_t uid{0};
    uint64_t gid{0};
};

//! The process on the other end of a connected unix socket (SO_PEERCRED on Linux).
bool GetPeerCredentials(int fd, PeerCredentials& out);

} // namespace tracering::detail

#endif // TRACERING_COMMON_UNIX_SOCKET_H
