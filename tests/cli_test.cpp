// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// The command-line walker every program shares (tools/cli): how values are taken, and the
// one-line errors. The programs' own checks are tested end to end (ringdump_test.cpp,
// p2p_test.cpp, test_extractor.py).

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace {

using tracering::cli::Args;

//! Walks `args` with `visit(a)` for every argument; returns the first error ("" if none).
template <typename Visit>
std::string Walk(std::vector<std::string> args, Visit visit, std::string short_with_value = {})
{
    Args a{"prog", "cmd", std::move(args), std::move(short_with_value)};
    while (a.Next()) {
        if (!visit(a)) return a.error().empty() ? "unknown " + a.arg() : a.error();
    }
    return "";
}

TEST(CliTest, TakesValuesSeparateInlineAndAttachedToShortOptions)
{
    std::string address, user, name;
    auto visit = [&](Args& a) {
        if (a.Is("-a", "--address")) return a.Value(address);
        if (a.Is("-u", "--user")) return a.Value(user);
        if (a.Is("--name")) return a.Value(name);
        return false;
    };
    EXPECT_EQ(Walk({"--address", "h:1", "--user=x=y", "--name", "n"}, visit, "au"), "");
    EXPECT_EQ(address, "h:1");
    EXPECT_EQ(user, "x=y"); // only the first '=' separates
    EXPECT_EQ(name, "n");
    EXPECT_EQ(Walk({"-ah:2", "-u=z"}, visit, "au"), "");
    EXPECT_EQ(address, "h:2");
    EXPECT_EQ(user, "z");
    EXPECT_EQ(Walk({"-a", "h:3"}, visit, "au"), "");
    EXPECT_EQ(address, "h:3");
    // A short option not listed as taking a value is not split: "-ah:4" is not "-a".
    EXPECT_EQ(Walk({"-ah:4"}, visit, ""), "unknown -ah:4");
    // An empty inline value is a value.
    EXPECT_EQ(Walk({"--name="}, visit), "");
    EXPECT_EQ(name, "");
}

TEST(CliTest, AForgottenValueIsNamedNotTaken)
{
    std::string ring, password;
    bool json = false;
    auto visit = [&](Args& a) {
        if (a.Is("--ring")) return a.Value(ring);
        if (a.Is("-p", "--password")) return a.Value(password, /*may_look_like_option=*/true);
        if (a.Is("--json")) return a.Switch(json);
        return false;
    };
    EXPECT_EQ(Walk({"--ring", "--json"}, visit),
              "--ring needs a value, not the option --json (write --ring=VALUE for a value that "
              "starts with -)");
    EXPECT_EQ(Walk({"--ring", "-x"}, visit), "--ring needs a value, not the option -x (write "
                                             "--ring=VALUE for a value that starts with -)");
    EXPECT_EQ(Walk({"--ring"}, visit), "--ring needs a value");
    EXPECT_EQ(Walk({"-p"}, visit), "-p/--password needs a value");
    // Written inline, or where the program allows it, a value may start with '-'.
    EXPECT_EQ(Walk({"--ring=--json"}, visit), "");
    EXPECT_EQ(ring, "--json");
    EXPECT_EQ(Walk({"-p", "-secret-", "--json"}, visit), "");
    EXPECT_EQ(password, "-secret-");
    EXPECT_TRUE(json);
    // Negative numbers and "-" are values, not options.
    EXPECT_EQ(Walk({"--ring", "-5"}, visit), "");
    EXPECT_EQ(ring, "-5");
    EXPECT_EQ(Walk({"--ring", "-"}, visit), "");
    EXPECT_EQ(ring, "-");
    EXPECT_EQ(Walk({"--json=yes"}, visit), "--json takes no value");
}

TEST(CliTest, AnOptionOfOneValueMayNotBeGivenTwice)
{
    std::string control;
    std::vector<std::string> rings;
    auto visit = [&](Args& a) {
        if (a.Is("--control")) return a.Value(control);
        if (a.Is("-r", "--ring")) return a.Append(rings);
        return false;
    };
    EXPECT_EQ(Walk({"--control", "a", "--control=b"}, visit),
              "--control is given twice; give it once");
    EXPECT_EQ(Walk({"--ring", "net", "-r", "mempool", "--ring=utxocache"}, visit), "");
    EXPECT_EQ(rings, (std::vector<std::string>{"net", "mempool", "utxocache"}));
}

TEST(CliTest, NumbersAreWholeAndWithinTheirBounds)
{
    uint64_t count = 0;
    int64_t peer = 0;
    double seconds = 0;
    auto visit = [&](Args& a) {
        if (a.Is("--count")) return a.U64(count, 1, 1000);
        if (a.Is("--peer")) return a.I64(peer);
        if (a.Is("--interval")) return a.Seconds(seconds, 0.001);
        return false;
    };
    EXPECT_EQ(Walk({"--count", "1000", "--peer", "-3", "--interval", "0.5"}, visit), "");
    EXPECT_EQ(count, 1000u);
    EXPECT_EQ(peer, -3);
    EXPECT_DOUBLE_EQ(seconds, 0.5);
    EXPECT_EQ(Walk({"--count", "0"}, visit), "--count must be at least 1, not 0");
    EXPECT_EQ(Walk({"--count", "1001"}, visit), "--count must be at most 1000, not 1001");
    EXPECT_EQ(Walk({"--count", "99999999999999999999999"}, visit),
              "--count must be at most 1000, not 99999999999999999999999");
    for (const char* bad : {"ten", "+5", " 5", "5x", "", "1.5"}) {
        EXPECT_EQ(Walk({"--count", bad}, visit),
                  std::string{"--count needs a whole number, not '"} + bad + "'");
    }
    EXPECT_EQ(Walk({"--peer", "1e3"}, visit), "--peer needs a whole number, not '1e3'");
    EXPECT_EQ(Walk({"--interval", "0"}, visit), "--interval must be at least 0.001 s, not 0");
    EXPECT_EQ(Walk({"--interval", "-1"}, visit), "--interval must be at least 0.001 s, not -1");
    EXPECT_EQ(Walk({"--interval", "1e9"}, visit), "--interval must be below 1e9 s, not 1e9");
    for (const char* bad : {"soon", "inf", "nan", "0x10", "+1", " 1", ""}) {
        EXPECT_EQ(Walk({"--interval", bad}, visit),
                  std::string{"--interval needs a number of seconds, not '"} + bad + "'");
    }
    // Without an upper bound, a number too large for 64 bits is still refused.
    uint64_t unbounded = 0;
    auto any = [&](Args& a) { return a.Is("--n") && a.U64(unbounded); };
    EXPECT_EQ(Walk({"--n", "18446744073709551616"}, any),
              "--n must be at most 18446744073709551615, not 18446744073709551616");
    EXPECT_EQ(Walk({"--n", "18446744073709551615"}, any), "");
    EXPECT_EQ(unbounded, UINT64_MAX);
}

TEST(CliTest, HelpPositionalsAndTheErrorLine)
{
    Args a{"prog", 0, nullptr};
    EXPECT_FALSE(a.Next());
    std::vector<std::string> seen;
    Args b{"prog", "", {"-h", "file", "-", "--help"}};
    while (b.Next()) {
        seen.push_back(std::string{b.IsHelp() ? "help" : b.IsPositional() ? "positional" : "?"});
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"help", "positional", "positional", "help"}));
    EXPECT_TRUE(tracering::cli::LooksLikeOption("-x"));
    EXPECT_TRUE(tracering::cli::LooksLikeOption("--"));
    EXPECT_FALSE(tracering::cli::LooksLikeOption("-1"));
    EXPECT_FALSE(tracering::cli::LooksLikeOption("x-"));

    testing::internal::CaptureStderr();
    EXPECT_EQ(tracering::cli::Usage("prog", "watch", "bad things"), tracering::cli::EXIT_USAGE);
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "prog: bad things\nRun 'prog watch --help' for its options.\n");
    testing::internal::CaptureStderr();
    Args c{"prog", "", {"stray"}};
    ASSERT_TRUE(c.Next());
    EXPECT_EQ(c.Unknown(), tracering::cli::EXIT_USAGE);
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "prog: unexpected argument 'stray'\nRun 'prog --help' for its options.\n");
}

TEST(CliTest, ASocketPathMustFitASocketAddress)
{
    std::string path;
    auto visit = [&](Args& a) { return a.Is("--control") && a.SocketPath(path); };
    const std::string longest = "/" + std::string(tracering::cli::MAX_SOCKET_PATH - 1, 's');
    EXPECT_EQ(tracering::cli::MAX_SOCKET_PATH, 107u);
    EXPECT_EQ(Walk({"--control", longest}, visit), "");
    EXPECT_EQ(path, longest);
    EXPECT_EQ(Walk({"--control", longest + "s"}, visit),
              "--control is 108 bytes long; a unix socket path may have at most 107");
    EXPECT_EQ(Walk({"--control="}, visit), "--control needs a socket path");
}

} // namespace
