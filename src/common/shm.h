// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_SHM_H
#define TRACERING_COMMON_SHM_H

#include <tracering/result.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tracering::detail {

//! Who besides the owner may open an object.
struct ShmAccess {
    uint32_t mode{0600}; //!< exact permission bits (umask does not apply)
    int64_t group{-1};   //!< gid to give the object, -1 to keep the creator's
};

//! Shared memory mapped whole: a named POSIX object, or anonymous memory passed by
//! descriptor. errno is turned into Errors here, once, for both sides.
class SharedMemory
{
public:
    //! Creates `object_name` exclusively (O_EXCL) with exactly `access`, sized and zeroed,
    //! and maps it read-write.
    static Result<std::unique_ptr<SharedMemory>> Create(const std::string& object_name,
                                                        uint64_t size, const ShmAccess& access);
    //! Opens an existing object; read-only maps it PROT_READ from an O_RDONLY descriptor.
    static Result<std::unique_ptr<SharedMemory>> Open(const std::string& object_name,
                                                      bool writable);
    //! Maps the object behind descriptor `fd` (which is duplicated, not taken): for memory
    //! received over the control socket. `what` names it in errors.
    static Result<std::unique_ptr<SharedMemory>> FromFd(int fd, bool writable,
                                                        const std::string& what);
    //! Nameless memory for one lease, mapped read-write. Linux: memfd_create, sealed so
    //! that nobody (not even a holder of the descriptor) can shrink or grow it, so a mapping
    //! of it never faults. Elsewhere: a POSIX object unlinked at once (not sealed).
    static Result<std::unique_ptr<SharedMemory>> CreateAnonymous(uint64_t size,
                                                                 const std::string& what);
    //! Unlinks `object_name`; true if it existed and was removed.
    static bool Remove(const std::string& object_name) noexcept;
    //! Whether an object of that name exists (it may still be unreadable to us).
    static bool Exists(const std::string& object_name) noexcept;
    //! Where the OS shows the object to users (e.g. /dev/shm/NAME), for messages.
    static std::string DisplayPath(const std::string& object_name);

    ~SharedMemory();
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;

    uint8_t* data() const noexcept { return m_data; }
    uint64_t size() const noexcept { return m_size; }
    const std::string& name() const noexcept { return m_name; }
    bool writable() const noexcept { return m_writable; }
    //! The descriptor the mapping was made from (owned by this object).
    int fd() const noexcept { return m_fd; }

    //! Allocates the object's pages in [offset, offset + length) now (posix_fallocate), so
    //! that writing there later can never fail. Without this, an object on a full file system
    //! (a small /dev/shm, as in containers) maps fine, and the first write to a page the file
    //! system has no room for kills the writer with SIGBUS. Allocated pages stay allocated;
    //! reserving them again is cheap. `what` names the range in the error, which says how
    //! much was needed and how much the file system had free.
    Result<void> Reserve(uint64_t offset, uint64_t length, const std::string& what);
    //! Sets the object's permission bits now (fchmod): the producer creates its main object
    //! writable for itself, then leaves it read-only for everyone.
    Result<void> SetMode(uint32_t mode);
    //! A new read-only descriptor of the same object (the caller owns it), for a consumer.
    Result<int> ReopenReadOnly() const;
    //! Whether `object_name` still names this very object (same device and inode).
    bool IsNamedBy(const std::string& object_name) const noexcept;
    //! Unlinks the name this object was created or opened under, only if it still names this
    //! object: a name taken over since by someone else is left alone. True if removed.
    bool RemoveName() const noexcept;

private:
    SharedMemory() = default;
    uint8_t* m_data{nullptr};
    uint64_t m_size{0};
    int m_fd{-1};
    uint64_t m_dev{0};
    uint64_t m_ino{0};
    std::string m_name;
    bool m_writable{false};
};

//! "owner uid 1000 (alice), group 1000 (alice), mode 0600" for `object_name`, or "" when it
//! cannot be read.
std::string DescribeOwnership(const std::string& object_name);

} // namespace tracering::detail

#endif // TRACERING_COMMON_SHM_H
