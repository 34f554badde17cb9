// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "common/unix_socket.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace tracering::detail {
namespace {

Result<sockaddr_un> MakeAddress(const std::string& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        return Error{ErrorCode::InvalidArgument,
                     "control socket path '" + path + "' must be 1 to " +
                         std::to_string(sizeof(addr.sun_path) - 1) + " characters long"};
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

std::string Describe(const std::string& path)
{
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return {};
    return " (owner uid " + std::to_string(st.st_uid) + ", mode " +
           std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
           std::to_string(st.st_mode & 7) + ")";
}

} // namespace

Result<int> ListenUnix(const std::string& path, uint32_t mode, int64_t group)
{
    auto addr = MakeAddress(path);
    if (!addr) return addr.error();
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return Error{ErrorCode::AlreadyExists,
                         "control socket path " + path +
                             " exists and is not a socket; remove it or choose another path"};
        }
        // A socket file: live if someone accepts a connection on it.
        auto probe = ConnectUnix(path);
        if (probe) {
            ::close(probe.value());
            return Error{ErrorCode::AlreadyExists,
                         "another process already serves " + path +
                             "; stop it or choose another control socket path"};
        }
        ::unlink(path.c_str()); // left behind by a process that is gone
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Error{ErrorCode::SystemError,
                     "cannot create control socket " + path + ": " + std::strerror(errno)};
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un)) != 0) {
        const int err = errno;
        ::close(fd);
        return Error{err == EACCES ? ErrorCode::PermissionDenied : ErrorCode::SystemError,
                     "cannot bind control socket " + path + ": " + std::strerror(err)};
    }
    // Before anyone can be let in (listen), narrow the permissions to what was asked.
    if (::chmod(path.c_str(), mode) != 0 ||
        (group >= 0 &&
         ::chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(group)) != 0) ||
        ::listen(fd, 16) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        return Error{ErrorCode::SystemError,
                     "cannot set up control socket " + path + ": " + std::strerror(err)};
    }
    return fd;
}

Result<int> ConnectUnix(const std::string& path)
{
    auto addr = MakeAddress(path);
    if (!addr) return addr.error();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return Error{ErrorCode::SystemError,
                     "cannot create a socket to connect to " + path + ": " + std::strerror(errno)};
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un)) != 0) {
        const int err = errno;
        ::close(fd);
        switch (err) {
        case ENOENT:
            return Error{ErrorCode::NotFound, "no control socket at " + path +
                                                  ": is the producer running, with its control "
                                                  "socket at that path?"};
        case ECONNREFUSED:
            return Error{ErrorCode::NotFound, "nothing listens on " + path +
                                                  ": the producer that made it is gone, or it "
                                                  "is not a socket"};
        case EACCES:
        case EPERM:
            return Error{ErrorCode::PermissionDenied,
                         "permission denied connecting to " + path + Describe(path) +
                             "; run as the producer's user, or have it grant group access"};
        default:
            return Error{ErrorCode::SystemError,
                         "cannot connect to " + path + ": " + std::strerror(err)};
        }
    }
    return fd;
}

bool GetPeerCredentials(int fd, PeerCredentials& out)
{
#if defined(SO_PEERCRED)
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
    out.pid = static_cast<uint64_t>(cred.pid);
    out.uid = cred.uid;
    out.gid = cred.gid;
    return true;
#else
    (void)fd;
    (void)out;
    return false;
#endif
}

} // namespace tracering::detail
