// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "common/process.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <signal.h>
#include <string>
#include <unistd.h>

namespace tracering::detail {

namespace {

//! Field 3 (state) and field 22 (start time) of /proc/<pid>/stat; false if unreadable.
bool ReadProcStat(uint64_t pid, char& state, uint64_t& start_time) noexcept
{
#if defined(__linux__)
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%llu/stat", static_cast<unsigned long long>(pid));
    FILE* f = std::fopen(path, "re");
    if (!f) return 0;
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name (field 2) is in parentheses and may hold spaces and ')': the fields
    // we need follow the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == '\0') return false;
    state = p[2];
    ++p;
    // After ')' come field 3 (state) ... field 22 (starttime): skip 19 separators.
    int field = 2;
    while (*p && field < 21) {
        if (*p == ' ') ++field;
        ++p;
    }
    if (field != 21) return false;
    start_time = std::strtoull(p, nullptr, 10);
    return true;
#else
    (void)pid;
    (void)state;
    (void)start_time;
    return false;
#endif
}

} // namespace

uint64_t ProcessStartTime(uint64_t pid) noexcept
{
    char state = 0;
    uint64_t start_time = 0;
    return ReadProcStat(pid, state, start_time) ? start_time : 0;
}

ProcessLiveness CheckProcess(uint64_t pid, uint64_t start_time) noexcept
{
    if (pid == 0 || pid > uint64_t(INT32_MAX)) return ProcessLiveness::Gone;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return ProcessLiveness::Gone;
    // EPERM means it exists but belongs to someone else: alive for our purpose.
    char state = 0;
    uint64_t now_start = 0;
    if (ReadProcStat(pid, state, now_start)) {
        if (start_time != 0 && now_start != start_time) return ProcessLiveness::Replaced;
        // Killed but not yet reaped by its parent: it will never write again.
        if (state == 'Z' || state == 'X') return ProcessLiveness::Gone;
    }
    return ProcessLiveness::Alive;
}

uint64_t CurrentPid() noexcept { return static_cast<uint64_t>(::getpid()); }

} // namespace tracering::detail
