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

//! One named POSIX shared-memory object, mapped whole. Boost.Interprocess exceptions and
//! errno are turned into Errors here, once, for both sides.
class SharedMemory
{
public:
    //! Creates `object_name` exclusively (O_EXCL) with exactly `access`, sized and zeroed.
    static Result<std::unique_ptr<SharedMemory>> Create(const std::string& object_name,
                                                        uint64_t size, const ShmAccess& access);
    //! Opens an existing object; read-only maps it PROT_READ from an O_RDONLY descriptor.
    static Result<std::unique_ptr<SharedMemory>> Open(const std::string& object_name,
                                                      bool writable);
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

private:
    SharedMemory() = default;
    struct Handles;
    std::unique_ptr<Handles> m_handles;
    uint8_t* m_data{nullptr};
    uint64_t m_size{0};
    std::string m_name;
    bool m_writable{false};
};

//! "owner uid 1000, group 1000, mode 0600" for `object_name`, or "" when it cannot be read.
std::string DescribeOwnership(const std::string& object_name);

} // namespace tracering::detail

#endif // TRACERING_COMMON_SHM_H
