// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Group access from an operator's option (declared in tracering/producer.h): every tool that
// starts a producer resolves its --group here, so they all accept and refuse the same names.

#include <tracering/producer.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <grp.h>
#include <optional>
#include <pwd.h>
#include <string>
#include <unistd.h>
#include <vector>

#include <sys/types.h>

namespace tracering {

namespace {

//! The largest buffer getgrnam_r/getgrgid_r may ask for before the lookup is called failed:
//! a group with thousands of members needs more than sysconf's hint, nothing sane needs this.
constexpr size_t MAX_LOOKUP_BUFFER = size_t{1} << 24;

struct GroupEntry {
    gid_t gid;
    std::string name;
};

//! Looks a group up by name or, when `by_id` is set, by id. nullopt with err 0: no such group.
std::optional<GroupEntry> LookupGroup(const std::string& name, std::optional<gid_t> by_id, int& err)
{
    const long hint = ::sysconf(_SC_GETGR_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<size_t>(hint) : 16384);
    for (;;) {
        ::group entry{};
        ::group* result{nullptr};
        err = by_id ? ::getgrgid_r(*by_id, &entry, buffer.data(), buffer.size(), &result)
                    : ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result);
        if (err == ERANGE && buffer.size() < MAX_LOOKUP_BUFFER) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        // glibc reports "no such group" as 0 with no result, but POSIX lets it be ENOENT and
        // the like; none of those is a failure of the lookup itself.
        if (err == ENOENT || err == ESRCH || err == EBADF || err == EPERM) err = 0;
        if (err != 0 || result == nullptr) return std::nullopt;
        return GroupEntry{result->gr_gid, result->gr_name ? result->gr_name : name};
    }
}

//! A group id written in decimal, or nullopt.
std::optional<gid_t> ParseGroupId(const std::string& text)
{
    uint64_t value{0};
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    // (gid_t)-1 means "no change" to chown, so it names no group.
    if (text.empty() || ec != std::errc{} || ptr != end || value >= uint64_t{gid_t(-1)}) {
        return std::nullopt;
    }
    return static_cast<gid_t>(value);
}

//! Whether chown may give this process's files group `gid`: without CAP_CHOWN (root), only a
//! group the process is in.
bool MayGiveGroup(gid_t gid)
{
    if (::geteuid() == 0 || ::getegid() == gid) return true;
    const int count = ::getgroups(0, nullptr);
    if (count <= 0) return false;
    std::vector<gid_t> groups(static_cast<size_t>(count));
    const int got = ::getgroups(count, groups.data());
    for (int i = 0; i < got; ++i) {
        if (groups[static_cast<size_t>(i)] == gid) return true;
    }
    return false;
}

//! The name of user `uid`, or "" when it has none.
std::string UserName(uid_t uid)
{
    std::vector<char> buffer(16384);
    ::passwd entry{};
    ::passwd* result{nullptr};
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &result) == 0 && result &&
        result->pw_name) {
        return result->pw_name;
    }
    return {};
}

} // namespace

Result<int64_t> ResolveGroup(const std::string& group)
{
    if (group.empty()) return Error{ErrorCode::InvalidArgument, "empty group name"};
    int err{0};
    std::optional<GroupEntry> entry = LookupGroup(group, std::nullopt, err);
    if (!entry && err == 0) {
        if (const std::optional<gid_t> gid = ParseGroupId(group)) {
            entry = LookupGroup(group, gid, err);
        }
    }
    if (!entry) {
        if (err != 0) {
            return Error{ErrorCode::SystemError,
                         "cannot look up group '" + group + "': " + std::strerror(err)};
        }
        return Error{ErrorCode::NotFound, "there is no group '" + group + "' on this system"};
    }
    const std::string described =
        "group '" + entry->name + "' (gid " + std::to_string(entry->gid) + ")";
    if (!MayGiveGroup(entry->gid)) {
        const uid_t uid = ::geteuid();
        const std::string name = UserName(uid);
        const std::string user = name.empty()
                                     ? "uid " + std::to_string(uid)
                                     : "user '" + name + "' (uid " + std::to_string(uid) + ")";
        return Error{ErrorCode::PermissionDenied,
                     "cannot give the segment and control socket to " + described + ": " + user +
                         " is not a member of it; add it (usermod -aG " + entry->name + " " +
                         (name.empty() ? "USER" : name) +
                         ", then log in again) or run as a member of that group"};
    }
    return int64_t{entry->gid};
}

} // namespace tracering
