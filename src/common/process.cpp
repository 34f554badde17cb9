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

uint64_t ProcessStartTime(uint64_t pid) noexcept
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
    if (!p) return 0;
    ++p;
    // After ')' come field 3 (state) ... field 22 (starttime): skip 19 separators.
    int field = 2;
    while (*p && field < 21) {
        if (*p == ' ') ++field;
        ++p;
    }
    if (field != 21) return 0;
    return std::strtoull(p, nullptr, 10);
#else
    (void)pid;
    return 0;
#endif
}

ProcessLiveness CheckProcess(uint64_t pid, uint64_t start_time) noexcept
{
    if (pid == 0 || pid > uint64_t(INT32_MAX)) return ProcessLiveness::Gone;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return ProcessLiveness::Gone;
    // EPERM means it exists but belongs to someone else: alive for our purpose.
    if (start_time != 0) {
        const uint64_t now_start = ProcessStartTime(pid);
        if (now_start != 0 && now_start != start_time) return ProcessLiveness::Replaced;
    }
    return ProcessLiveness::Alive;
}

uint64_t CurrentPid() noexcept { return static_cast<uint64_t>(::getpid()); }

} // namespace tracering::detail
