// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/cpu.h"

namespace tracering {
namespace {

//! Whether the kernel lists `flag` among the first CPU's flags in /proc/cpuinfo; empty if
//! there is no such file or line.
std::optional<bool> KernelListsCpuFlag(const std::string& flag)
{
    std::ifstream in{"/proc/cpuinfo"};
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words{line.substr(line.find(':') + 1)};
        std::string word;
        while (words >> word)
            if (word == flag) return true;
        return false;
    }
    return std::nullopt;
}

TEST(CpuTest, CanEvictLinesAgreesWithTheKernelsFlags)
{
#if defined(__x86_64__) || defined(__i386__)
    const auto listed = KernelListsCpuFlag("clflushopt");
    if (!listed) GTEST_SKIP() << "no flags line in /proc/cpuinfo to compare with";
    EXPECT_EQ(detail::CanEvictLines(), *listed);
#else
    EXPECT_FALSE(detail::CanEvictLines());
#endif
}

TEST(CpuTest, EvictedLinesKeepTheirContent)
{
    alignas(64) static uint8_t lines[64 * 16];
    for (size_t i = 0; i < sizeof(lines); ++i)
        lines[i] = static_cast<uint8_t>(i * 31 + 7);
    detail::EvictLines(lines, sizeof(lines) / 64);
    detail::EvictLines(lines + 64, 0);
    for (size_t i = 0; i < sizeof(lines); ++i)
        ASSERT_EQ(lines[i], static_cast<uint8_t>(i * 31 + 7)) << "byte " << i;
}

} // namespace
} // namespace tracering
