// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_FUZZ_UTIL_H
#define TRACERING_FUZZ_UTIL_H

//! @file
//! What the fuzz targets share: failing loudly when their own setup breaks or an invariant
//! of the code under test does not hold, and a private scratch directory.

#include <tracering/result.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <utility>

namespace tracering::fuzz {

//! Aborts (a crash libFuzzer reports, with the input that caused it) saying why.
[[noreturn]] inline void Die(const std::string& what)
{
    std::fprintf(stderr, "fuzz: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

//! The value of a setup step that must not fail; aborts naming the step otherwise.
template <typename T>
T Must(Result<T> result, const char* step)
{
    if (!result) Die(std::string{step} + ": " + result.error().message());
    return std::move(result.value());
}

//! A new private (0700) directory for a target's files, under $TMPDIR or /tmp. Removed at
//! exit; a crash leaves it behind.
inline std::filesystem::path ScratchDirectory(const char* target)
{
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string{tmp && *tmp ? tmp : "/tmp"} + "/tracering-fuzz-" + target + "-XXXXXX";
    if (!::mkdtemp(pattern.data())) Die("cannot create a scratch directory " + pattern);
    static std::filesystem::path* dir = nullptr;
    dir = new std::filesystem::path{pattern};
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(*dir, ec);
    });
    return *dir;
}

} // namespace tracering::fuzz

#endif // TRACERING_FUZZ_UTIL_H
