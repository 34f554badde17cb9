// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "common/shm.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <sys/stat.h>

namespace bip = boost::interprocess;

namespace tracering::detail {

struct SharedMemory::Handles {
    bip::shared_memory_object shm;
    bip::mapped_region region;
};

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

Error FromBoost(const bip::interprocess_exception& e, const std::string& what,
                const std::string& object_name)
{
    const int err = e.get_native_error();
    std::string msg = what + " " + SharedMemory::DisplayPath(object_name) + ": ";
    msg += err != 0 ? std::strerror(err) : e.what();
    if (err == EACCES || err == EPERM) {
        const std::string owner = DescribeOwnership(object_name);
        msg += owner.empty() ? "" : " (" + owner + ")";
        msg += "; run as the producer's user, or have the producer grant group access";
    }
    return Error{err != 0 ? CodeForErrno(err) : ErrorCode::SystemError, msg};
}

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
    char buf[96];
    std::snprintf(buf, sizeof(buf), "owner uid %u, group %u, mode %04o", unsigned(st.st_uid),
                  unsigned(st.st_gid), unsigned(st.st_mode & 07777));
    return buf;
#else
    (void)object_name;
    return {};
#endif
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::Create(const std::string& object_name,
                                                           uint64_t size, const ShmAccess& access)
{
    std::unique_ptr<SharedMemory> self{new SharedMemory};
    self->m_name = object_name;
    self->m_writable = true;
    try {
        bip::permissions perm;
        perm.set_permissions(static_cast<int>(access.mode));
        bip::shared_memory_object shm{bip::create_only, object_name.c_str(), bip::read_write, perm};
        if (access.group >= 0) {
            if (::fchown(shm.get_mapping_handle().handle, static_cast<uid_t>(-1),
                         static_cast<gid_t>(access.group)) != 0) {
                const int err = errno;
                bip::shared_memory_object::remove(object_name.c_str());
                return Error{CodeForErrno(err),
                             "cannot give " + DisplayPath(object_name) + " to group " +
                                 std::to_string(access.group) + ": " + std::strerror(err) +
                                 "; the producer's user must be a member of that group"};
            }
        }
        shm.truncate(static_cast<bip::offset_t>(size));
        bip::mapped_region region{shm, bip::read_write};
        self->m_handles.reset(new Handles{std::move(shm), std::move(region)});
    } catch (const bip::interprocess_exception& e) {
        // A failure after the object was made must not leave it behind.
        if (e.get_native_error() != EEXIST) bip::shared_memory_object::remove(object_name.c_str());
        return FromBoost(e, "cannot create", object_name);
    }
    self->m_data = static_cast<uint8_t*>(self->m_handles->region.get_address());
    self->m_size = self->m_handles->region.get_size();
    return self;
}

Result<std::unique_ptr<SharedMemory>> SharedMemory::Open(const std::string& object_name,
                                                         bool writable)
{
    std::unique_ptr<SharedMemory> self{new SharedMemory};
    self->m_name = object_name;
    self->m_writable = writable;
    const auto mode = writable ? bip::read_write : bip::read_only;
    try {
        bip::shared_memory_object shm{bip::open_only, object_name.c_str(), mode};
        bip::offset_t size = 0;
        if (!shm.get_size(size) || size <= 0) {
            return Error{ErrorCode::Corrupt, DisplayPath(object_name) +
                                                 " is empty: the producer died while creating "
                                                 "it, or it is not a tracering object"};
        }
        bip::mapped_region region{shm, mode};
        self->m_handles.reset(new Handles{std::move(shm), std::move(region)});
    } catch (const bip::interprocess_exception& e) {
        return FromBoost(e, "cannot open", object_name);
    }
    self->m_data = static_cast<uint8_t*>(self->m_handles->region.get_address());
    self->m_size = self->m_handles->region.get_size();
    return self;
}

bool SharedMemory::Remove(const std::string& object_name) noexcept
{
    return bip::shared_memory_object::remove(object_name.c_str());
}

bool SharedMemory::Exists(const std::string& object_name) noexcept
{
#if defined(__linux__)
    struct stat st;
    return ::stat(DisplayPath(object_name).c_str(), &st) == 0;
#else
    try {
        bip::shared_memory_object shm{bip::open_only, object_name.c_str(), bip::read_only};
        return true;
    } catch (const bip::interprocess_exception& e) {
        return e.get_native_error() != ENOENT;
    }
#endif
}

SharedMemory::~SharedMemory() = default;

} // namespace tracering::detail
