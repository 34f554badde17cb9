// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "cli/cli.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include <sys/un.h>

namespace tracering::cli {

const size_t MAX_SOCKET_PATH = sizeof(sockaddr_un::sun_path) - 1;

namespace {

//! Set by StopOnSignals before its handler is installed; read by the handler.
std::atomic<bool>* g_stop_flag{nullptr};
//! CLOCK_MONOTONIC ns of the first stop signal, 0 before it. Writer and reader: the handler
//! (in whichever thread takes a signal); compare-exchange, so two signals taken at once in
//! two threads agree on which came first. Relaxed: it orders no other data.
std::atomic<int64_t> g_first_signal_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free, "used in a signal handler");

extern "C" void OnStopSignal(int sig)
{
    const int saved_errno = errno;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now); // async-signal-safe
    // At least 1, so that 0 keeps meaning "no signal yet".
    const int64_t now_ns = std::max<int64_t>(int64_t(now.tv_sec) * 1'000'000'000 + now.tv_nsec, 1);
    int64_t first = 0;
    if (g_first_signal_ns.compare_exchange_strong(first, now_ns, std::memory_order_relaxed)) {
        g_stop_flag->store(true, std::memory_order_relaxed);
    } else if (now_ns - first >= SECOND_SIGNAL_KILLS_AFTER_NS) {
        // The signal is blocked while its handler runs: raised again with the default
        // action, it ends the process as soon as the handler returns.
        ::signal(sig, SIG_DFL);
        ::raise(sig);
    }
    errno = saved_errno;
}

} // namespace

int Finish(std::string_view program, int code, int failure_code)
{
    errno = 0;
    const bool flushed = std::fflush(stdout) == 0;
    const int flush_errno = errno;
    if (flushed && !std::ferror(stdout)) return code;
    std::fprintf(stderr, "%.*s: cannot write the output to stdout%s%s\n", int(program.size()),
                 program.data(), flush_errno ? ": " : "",
                 flush_errno ? std::strerror(flush_errno) : "");
    return code != 0 ? code : failure_code;
}

void StopOnSignals(std::atomic<bool>& stop)
{
    g_stop_flag = &stop;
    struct sigaction action {
    };
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(sig, &action, nullptr);
    }
}

int Help(const char* text, const char* more)
{
    std::fputs(text, stdout);
    if (more) std::fputs(more, stdout);
    return 0;
}

int Usage(std::string_view program, std::string_view command, std::string_view message)
{
    std::fprintf(stderr, "%.*s: %.*s\n", int(program.size()), program.data(), int(message.size()),
                 message.data());
    if (command.empty()) {
        std::fprintf(stderr, "Run '%.*s --help' for its options.\n", int(program.size()),
                     program.data());
    } else {
        std::fprintf(stderr, "Run '%.*s %.*s --help' for its options.\n", int(program.size()),
                     program.data(), int(command.size()), command.data());
    }
    return EXIT_USAGE;
}

bool LooksLikeOption(std::string_view text)
{
    if (text.size() < 2 || text[0] != '-') return false;
    const char c = text[1];
    return c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ParseU64(std::string_view text, uint64_t& out)
{
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

bool ParseI64(std::string_view text, int64_t& out)
{
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

bool ParseNumber(std::string_view text, double& out)
{
    // from_chars, unlike strtod: no leading spaces or '+', no hexadecimal.
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

Args::Args(std::string program, std::string command, std::vector<std::string> args,
           std::string short_with_value)
    : m_program{std::move(program)}, m_command{std::move(command)}, m_args{std::move(args)},
      m_short_with_value{std::move(short_with_value)}
{
}

Args::Args(std::string program, int argc, char** argv, std::string short_with_value)
    : Args{std::move(program),
           {},
           std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc),
           std::move(short_with_value)}
{
}

bool Args::Next()
{
    if (m_index >= m_args.size()) return false;
    m_current = m_args[m_index++];
    m_has_inline = false;
    m_inline.clear();
    if (m_current.starts_with("--")) {
        if (const size_t eq = m_current.find('='); eq != std::string::npos) {
            m_inline = m_current.substr(eq + 1);
            m_has_inline = true;
            m_current.resize(eq);
        }
    } else if (m_current.size() > 2 && LooksLikeOption(m_current) &&
               m_short_with_value.find(m_current[1]) != std::string::npos) {
        // "-aHOST:PORT" (and "-a=HOST:PORT"): a short option with its value attached.
        m_inline = m_current.substr(m_current[2] == '=' ? 3 : 2);
        m_has_inline = true;
        m_current.resize(2);
    }
    m_name = m_current;
    return true;
}

bool Args::Is(std::string_view name)
{
    if (m_current != name) return false;
    m_name = name;
    return true;
}

bool Args::Is(std::string_view short_name, std::string_view long_name)
{
    if (m_current != short_name && m_current != long_name) return false;
    m_name = std::string{short_name} + "/" + std::string{long_name};
    m_current = long_name; // "write --nats-address=VALUE" in messages
    return true;
}

bool Args::Take(std::string& out, bool may_look_like_option)
{
    if (m_has_inline) {
        out = m_inline;
        return true;
    }
    if (m_index >= m_args.size()) return Fail(m_name + " needs a value");
    const std::string& next = m_args[m_index];
    // "--ring --json": a forgotten value, not a ring called "--json".
    if (!may_look_like_option && LooksLikeOption(next)) {
        return Fail(m_name + " needs a value, not the option " + next + " (write " + m_current +
                    "=VALUE for a value that starts with -)");
    }
    out = next;
    ++m_index;
    return true;
}

bool Args::Value(std::string& out, bool may_look_like_option)
{
    if (!m_seen.insert(m_name).second) return Fail(m_name + " is given twice; give it once");
    return Take(out, may_look_like_option);
}

bool Args::Append(std::vector<std::string>& out)
{
    std::string value;
    if (!Take(value, /*may_look_like_option=*/false)) return false;
    out.push_back(std::move(value));
    return true;
}

bool Args::NonEmpty(std::string& out, std::string_view what)
{
    if (!Value(out)) return false;
    if (out.empty()) return Fail(m_name + " needs " + std::string{what});
    return true;
}

bool Args::U64(uint64_t& out, uint64_t min, uint64_t max)
{
    std::string text;
    if (!Value(text)) return false;
    uint64_t value = 0;
    const bool parsed = ParseU64(text, value);
    if (!parsed && (text.empty() || text.find_first_not_of("0123456789") != std::string::npos))
        return Fail(m_name + " needs a whole number, not '" + text + "'");
    // All digits but not parsed: more than 64 bits hold, so more than any bound.
    if (parsed && value < min)
        return Fail(m_name + " must be at least " + std::to_string(min) + ", not " + text);
    if (!parsed || value > max)
        return Fail(m_name + " must be at most " + std::to_string(max) + ", not " + text);
    out = value;
    return true;
}

bool Args::I64(int64_t& out)
{
    std::string text;
    if (!Value(text)) return false;
    if (!ParseI64(text, out)) return Fail(m_name + " needs a whole number, not '" + text + "'");
    return true;
}

bool Args::Seconds(double& out, double min)
{
    std::string text;
    if (!Value(text)) return false;
    double value = 0;
    if (!ParseNumber(text, value) || !std::isfinite(value)) {
        return Fail(m_name + " needs a number of seconds, not '" + text + "'");
    }
    if (value >= 1e9) return Fail(m_name + " must be below 1e9 s, not " + text);
    if (value < min || value < 0) {
        char bound[32];
        std::snprintf(bound, sizeof(bound), "%g", min);
        return Fail(m_name + " must be at least " + bound + " s, not " + text);
    }
    out = value;
    return true;
}

std::string SocketPathTooLong(const std::string& path)
{
    if (path.size() <= MAX_SOCKET_PATH) return {};
    return "is " + std::to_string(path.size()) +
           " bytes long; a unix socket path may have at most " + std::to_string(MAX_SOCKET_PATH);
}

bool Args::SocketPath(std::string& out)
{
    if (!NonEmpty(out, "a socket path")) return false;
    if (const std::string why = SocketPathTooLong(out); !why.empty()) {
        return Fail(m_name + " " + why);
    }
    return true;
}

bool Args::Switch(bool& out)
{
    if (m_has_inline) return Fail(m_name + " takes no value");
    out = true;
    return true;
}

bool Args::Fail(std::string why)
{
    m_error = std::move(why);
    return false;
}

int Args::Usage(std::string_view message) const
{
    return cli::Usage(m_program, m_command, message);
}

int Args::Unknown() const
{
    if (LooksLikeOption(m_current)) return Usage("unknown option " + m_current);
    return Usage("unexpected argument '" + m_current + "'");
}

} // namespace tracering::cli
