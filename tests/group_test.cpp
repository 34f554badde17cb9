// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// ResolveGroup, behind every tool's --group. Whether members of another user's group really
// can read and cannot write is tests/e2e/group_access.sh's job: it needs root to make users.

#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <grp.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "test_util.h"

namespace tracering {
namespace {

using test::Contains;

//! The name of this process's group, or "" if it has none.
std::string OwnGroupName()
{
    const struct group* entry = ::getgrgid(::getegid());
    return entry && entry->gr_name ? entry->gr_name : "";
}

TEST(SegmentGroupTest, ResolvesOwnGroupByNameAndById)
{
    const std::string name = OwnGroupName();
    if (name.empty()) GTEST_SKIP() << "gid " << ::getegid() << " has no name here";
    const Result<int64_t> by_name = ResolveGroup(name);
    ASSERT_TRUE(by_name) << by_name.error().message();
    EXPECT_EQ(by_name.value(), int64_t(::getegid()));
    const Result<int64_t> by_id = ResolveGroup(std::to_string(::getegid()));
    ASSERT_TRUE(by_id) << by_id.error().message();
    EXPECT_EQ(by_id.value(), int64_t(::getegid()));
}

TEST(SegmentGroupTest, UnknownGroupIsNotFoundAndNamed)
{
    for (const std::string group : {"tracering-no-such-group", "4294967000"}) {
        const Result<int64_t> gid = ResolveGroup(group);
        ASSERT_FALSE(gid) << group << " resolved to " << gid.value();
        EXPECT_EQ(gid.error().code(), ErrorCode::NotFound);
        EXPECT_TRUE(Contains(gid.error().message(), "no group '" + group + "'"))
            << gid.error().message();
    }
    for (const std::string bad : {"", "-1", "4294967295", "12abc"}) {
        EXPECT_FALSE(ResolveGroup(bad)) << "'" << bad << "' resolved";
    }
}

TEST(SegmentGroupTest, GroupTheUserIsNotInIsRefusedNamingIt)
{
    if (::geteuid() == 0) GTEST_SKIP() << "root may give its files any group";
    std::vector<gid_t> groups(static_cast<size_t>(::getgroups(0, nullptr)) + 1);
    groups.resize(static_cast<size_t>(::getgroups(int(groups.size()), groups.data())));
    groups.push_back(::getegid());
    // Some group that exists and that this process is not in: root's, normally.
    const struct group* other = nullptr;
    ::setgrent();
    for (const struct group* entry = ::getgrent(); entry; entry = ::getgrent()) {
        bool member = false;
        for (gid_t gid : groups)
            member = member || gid == entry->gr_gid;
        if (!member) {
            other = entry;
            break;
        }
    }
    if (!other) {
        ::endgrent();
        GTEST_SKIP() << "this process is in every group of the system";
    }
    const std::string name = other->gr_name;
    const gid_t other_gid = other->gr_gid;
    ::endgrent();
    for (const std::string& group : {name, std::to_string(other_gid)}) {
        const Result<int64_t> gid = ResolveGroup(group);
        ASSERT_FALSE(gid) << group << " resolved to " << gid.value();
        EXPECT_EQ(gid.error().code(), ErrorCode::PermissionDenied);
        EXPECT_TRUE(Contains(gid.error().message(),
                             "group '" + name + "' (gid " + std::to_string(other_gid) + ")"))
            << gid.error().message();
        EXPECT_TRUE(Contains(gid.error().message(), "is not a member of it"))
            << gid.error().message();
    }
}

} // namespace
} // namespace tracering
