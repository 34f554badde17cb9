// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "common/shm.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

namespace tracering::detail {
namespace {

ErrorCode CodeForErrno(int err)
{
    switch (err) {
    case ENOENT:
        return ErrorCode::NotFound;
    case EACCES:
    case EPERM:
        return ErrorCode::PermissionDenied;
    case EEXIST:
        return ErrorCode::AlreadyExists;
    default:
        return ErrorCode::SystemError;
    }
}

Error FromErrno(int err, const std::string& what, const std::string& object_name)
{
    std::string msg =
        what + " " + SharedMemory::DisplayPath(object_name) + ": " + std::strerror(err);
    if (err == EACCES || err == EPERM) {
        const std::string owner = DescribeOwnership(object_name);
        msg += owner.empty() ? "" : " (" + owner + ")";
        msg += "; run as the producer's user, or have the producer grant group access";
    }
    return Error{CodeForErrno(err), msg};
}

//! POSIX object names start with a slash; our names are given without it.
std::string PosixName(const std::string& object_name) { return "/" + object_name; }

} // namespace

std::string SharedMemory::DisplayPath(const std::string& object_name)
{
#if defined(__linux__)
    return "/dev/shm/" + object_name;
#else
    return "shared memory object '" + object_name + "'";
#endif
}

std::string DescribeOwnership(const std::string& object_name)
{
#if defined(__linux__)
    struct stat st;
    if (::stat(SharedMemory::DisplayPath(object_name).c_str(), &st) != 0) return {};
    std::string owner = "owner uid " + std::to_string(st.st_uid);
    char buf[1024];
    struct passwd pw;
    struct passwd* pwp = nullptr;
    if (::getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp) {
        owner += std::string{" ("} + pwp->pw_name + ")";
    }
    owner += ", group " + std::to_string(st.st_gid);
    struct group gr;
    struct group* grp = nullptr;
    if (::getgrgid_r(st.st_gid, &gr, buf, sizeof(buf), &grp) == 0 && grp) {
        owner += std::string{" ("} + grp->gr_name + ")";
    }
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", unsigned(st.st_mode & 07777));
    return owner + ", mode " + mode;
#else
    (void)object_name;
    return {};
#endif
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::Create(const std::string& object_name,
                                                           uint64_t size, const ShmAccess& access)
{
    const std::string posix = PosixName(object_name);
    // 0600 while it is being made; fchmod gives the exact mode (umask does not apply).
    const int fd = ::shm_open(posix.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return FromErrno(errno, "cannot create", object_name);
    auto fail = [&](const std::string& what) -> Error {
        const int err = errno;
        ::close(fd);
        ::shm_unlink(posix.c_str()); // a failure after the object was made leaves nothing
        return FromErrno(err, what, object_name);
    };
    if (access.group >= 0 &&
        ::fchown(fd, static_cast<uid_t>(-1), static_cast<gid_t>(access.group)) != 0) {
        const int err = errno;
        ::close(fd);
        ::shm_unlink(posix.c_str());
        return Error{CodeForErrno(err), "cannot give " + DisplayPath(object_name) + " to group " +
                                            std::to_string(access.group) + ": " +
                                            std::strerror(err) +
                                            "; the producer's user must be a member of that group"};
    }
    if (::fchmod(fd, access.mode) != 0) return fail("cannot set the mode of");
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return fail("cannot size");
    auto self = FromFd(fd, /*writable=*/true, object_name);
    ::close(fd); // FromFd keeps its own duplicate
    if (!self) {
        ::shm_unlink(posix.c_str());
        return self.error();
    }
    (*self)->m_name = object_name;
    return self;
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::Open(const std::string& object_name,
                                                         bool writable)
{
    const int fd =
        ::shm_open(PosixName(object_name).c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (fd < 0) return FromErrno(errno, "cannot open", object_name);
    auto self = FromFd(fd, writable, object_name);
    ::close(fd);
    if (!self) return self.error();
    (*self)->m_name = object_name;
    return self;
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::FromFd(int fd, bool writable,
                                                           const std::string& what)
{
    struct stat st;
    if (::fstat(fd, &st) != 0) return FromErrno(errno, "cannot inspect", what);
    if (st.st_size <= 0) {
        return Error{ErrorCode::Corrupt, DisplayPath(what) +
                                             " is empty: the producer died while creating it, "
                                             "or it is not a tracering object"};
    }
    const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return FromErrno(errno, "cannot duplicate the descriptor of", what);
    void* data = ::mmap(nullptr, static_cast<size_t>(st.st_size),
                        writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, own, 0);
    if (data == MAP_FAILED) {
        const int err = errno;
        ::close(own);
        return FromErrno(err, "cannot map", what);
    }
    std::unique_ptr<SharedMemory> self{new SharedMemory};
    self->m_data = static_cast<uint8_t*>(data);
    self->m_size = static_cast<uint64_t>(st.st_size);
    self->m_fd = own;
    self->m_dev = static_cast<uint64_t>(st.st_dev);
    self->m_ino = static_cast<uint64_t>(st.st_ino);
    self->m_writable = writable;
    return self;
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::CreateAnonymous(uint64_t size,
                                                                    const std::string& what)
{
#if defined(__linux__) && defined(MFD_ALLOW_SEALING)
    const int fd = ::memfd_create(what.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return FromErrno(errno, "cannot create", what);
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0 ||
        ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        const int err = errno;
        ::close(fd);
        return FromErrno(err, "cannot size and seal", what);
    }
#else
    // No sealing here: a holder of the descriptor could shrink it. Unlinked at once, so only
    // descriptor holders ever see it.
    static std::atomic<uint32_t> counter{0};
    const std::string name =
        "tracering.anon." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    const int fd = ::shm_open(PosixName(name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return FromErrno(errno, "cannot create", what);
    ::shm_unlink(PosixName(name).c_str());
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        const int err = errno;
        ::close(fd);
        return FromErrno(err, "cannot size", what);
    }
#endif
    auto self = FromFd(fd, /*writable=*/true, what);
    ::close(fd);
    return self;
}

Result<void> SharedMemory::Reserve(uint64_t offset, uint64_t length, const std::string& what)
{
    if (offset > m_size || length > m_size - offset) {
        return Error{ErrorCode::InvalidArgument,
                     "cannot reserve " + what + ": it lies outside " + DisplayPath(m_name)};
    }
#if defined(__linux__)
    // posix_fallocate returns the error rather than setting errno.
    const int err = ::posix_fallocate(m_fd, static_cast<off_t>(offset), static_cast<off_t>(length));
#else
    const int err = 0; // no posix_fallocate to rely on: pages are allocated as written
#endif
    if (err == 0) return {};
    std::string msg = "cannot allocate " + what + " (" + std::to_string((length + 1023) / 1024) +
                      " KiB) in " + DisplayPath(m_name) + ": " + std::strerror(err);
    if (err == ENOSPC) {
        struct statvfs fs;
        if (::fstatvfs(m_fd, &fs) == 0) {
            msg += " (" + std::to_string(uint64_t{fs.f_bavail} * fs.f_frsize / 1024) +
                   " KiB free there)";
        }
        msg += "; free space in its file system (remove stale tracering.* objects, or give the "
               "container a larger /dev/shm), or give the producer smaller rings";
    }
    return Error{err == ENOSPC ? ErrorCode::SystemError : CodeForErrno(err), msg};
}

Result<void> SharedMemory::SetMode(uint32_t mode)
{
    if (::fchmod(m_fd, mode) != 0) return FromErrno(errno, "cannot set the mode of", m_name);
    return {};
}

Result<int> SharedMemory::ReopenReadOnly() const
{
#if defined(__linux__)
    // Through our own descriptor, so it is this object even if the name changed hands.
    const std::string path = "/proc/self/fd/" + std::to_string(m_fd);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
#else
    const int fd = ::shm_open(PosixName(m_name).c_str(), O_RDONLY | O_CLOEXEC, 0);
#endif
    if (fd < 0) return FromErrno(errno, "cannot reopen read-only", m_name);
    struct stat st;
    if (::fstat(fd, &st) != 0 || uint64_t(st.st_ino) != m_ino || uint64_t(st.st_dev) != m_dev) {
        ::close(fd);
        return Error{ErrorCode::SystemError, DisplayPath(m_name) + " was replaced meanwhile"};
    }
    return fd;
}

bool SharedMemory::IsNamedBy(const std::string& object_name) const noexcept
{
#if defined(__linux__)
    struct stat st;
    return ::stat(DisplayPath(object_name).c_str(), &st) == 0 && uint64_t(st.st_ino) == m_ino &&
           uint64_t(st.st_dev) == m_dev;
#else
    const int fd = ::shm_open(PosixName(object_name).c_str(), O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return false;
    struct stat st;
    const bool same =
        ::fstat(fd, &st) == 0 && uint64_t(st.st_ino) == m_ino && uint64_t(st.st_dev) == m_dev;
    ::close(fd);
    return same;
#endif
}

bool SharedMemory::RemoveName() const noexcept
{
    if (m_name.empty() || !IsNamedBy(m_name)) return false;
    return ::shm_unlink(PosixName(m_name).c_str()) == 0;
}

bool SharedMemory::Remove(const std::string& object_name) noexcept
{
    return ::shm_unlink(PosixName(object_name).c_str()) == 0;
}

bool SharedMemory::Exists(const std::string& object_name) noexcept
{
    const int fd = ::shm_open(PosixName(object_name).c_str(), O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    return errno != ENOENT;
}

SharedMemory::~SharedMemory()
{
    if (m_data) ::munmap(m_data, static_cast<size_t>(m_size));
    if (m_fd >= 0) ::close(m_fd);
}

} // namespace tracering::detail
