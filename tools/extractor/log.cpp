// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "log.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace tracering::extractor {
namespace {

//! Writer: SetLogLevel(), in main() before other threads start. Readers: LogEnabled() on every
//! thread. Relaxed: the level orders nothing else, and a thread that saw a stale level
//! would only print or skip one line.
std::atomic<LogLevel> g_level{LogLevel::Info};

const char* LevelName(LogLevel level)
{
    switch (level) {
    case LogLevel::Error:
        return "ERROR";
    case LogLevel::Warn:
        return "WARN ";
    case LogLevel::Info:
        return "INFO ";
    case LogLevel::Debug:
        return "DEBUG";
    case LogLevel::Trace:
        return "TRACE";
    }
    return "?";
}

} // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text)
{
    std::string lower;
    for (const char c : text)
        lower += char(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "error") return LogLevel::Error;
    if (lower == "warn" || lower == "warning") return LogLevel::Warn;
    if (lower == "info") return LogLevel::Info;
    if (lower == "debug") return LogLevel::Debug;
    if (lower == "trace") return LogLevel::Trace;
    return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) { return level <= g_level.load(std::memory_order_relaxed); }

void Log(LogLevel level, const char* format, ...)
{
    if (!LogEnabled(level)) return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char line[2048];
    int n = int(std::strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &utc));
    n += std::snprintf(line + n, sizeof(line) - size_t(n), ".%03dZ %s ", int(ms.count()),
                       LevelName(level));
    va_list args;
    va_start(args, format);
    const int body = std::vsnprintf(line + n, sizeof(line) - size_t(n) - 1, format, args);
    va_end(args);
    // A message longer than the buffer is cut, not lost: what fits is printed.
    n = body < 0 ? n : std::min<int>(n + body, int(sizeof(line)) - 2);
    line[n++] = '\n';
    std::fwrite(line, 1, size_t(n), stderr);
    std::fflush(stderr);
}

bool LogLimiter::Allow(uint64_t& held_back)
{
    const Clock::time_point now = Clock::now();
    if (m_last && now - *m_last < m_interval) {
        ++m_held_back;
        return false;
    }
    m_last = now;
    held_back = m_held_back;
    m_held_back = 0;
    return true;
}

} // namespace tracering::extractor
