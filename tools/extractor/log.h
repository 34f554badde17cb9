// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_LOG_H
#define TRACERING_EXTRACTOR_LOG_H

//! @file
//! The extractor's log: one line per message on stderr, "2026-11-30T05:30:00.123Z INFO  ...",
//! from any thread (the main loop, and nats.c's threads through its connection callbacks).
//! Levels are peer-observer's (`-l error|warn|info|debug|trace`).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tracering::extractor {

enum class LogLevel : uint8_t { Error, Warn, Info, Debug, Trace };

//! "error", "warn" (or "warning"), "info", "debug", "trace", in any case; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

//! Messages above `level` are not printed. Set by main() before any other thread starts.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

//! Prints one line at `level`, printf-style. Thread-safe: the line is one write to stderr.
void Log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

//! Lets a repeated message through at most once per `interval`, and says how many of its
//! repeats were held back since, so a flood of the same error neither fills the log nor
//! hides how often it happened. The counters the message is about count every occurrence.
//! Used by one thread.
class LogLimiter
{
public:
    LogLimiter() = default;
    explicit LogLimiter(std::chrono::milliseconds interval) : m_interval{interval} {}
    //! True if this occurrence is to be logged; `held_back` is then the number of occurrences
    //! not logged since the last one that was.
    bool Allow(uint64_t& held_back);

private:
    using Clock = std::chrono::steady_clock;
    std::chrono::milliseconds m_interval{std::chrono::seconds{10}};
    std::optional<Clock::time_point> m_last;
    uint64_t m_held_back{0};
};

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_LOG_H
