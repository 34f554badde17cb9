// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! LTTng-UST recording the event ring_bench.cpp gives tracering (lttng_provider.h: the fields
//! of net:inbound_message), in the same binary and run: the off price, the producer's cost
//! while the consumer daemon keeps up, and a full-rate run with events delivered and lost.
//!
//! The session runs as the user running the benchmark: this file starts its own
//! lttng-sessiond with LTTNG_HOME in a new temporary directory, drives it with the `lttng`
//! command, counts the recorded events with `babeltrace2`, and stops the daemon and removes
//! the directory at exit. liblttng-ust reads LTTNG_HOME once, when it is loaded, so the
//! tracepoint provider (libtracering_bench_lttng.so, beside this binary) is loaded with
//! dlopen only after LTTNG_HOME is set. Without the tools, or as root (whose tracing belongs
//! to the system's session daemon), the LTTng benchmarks are skipped with the reason.

#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include "lttng_provider.h"
#include "peers_common.h"
#include <sys/prctl.h>
#include <sys/wait.h>

namespace {

using namespace peers;
namespace fs = std::filesystem;

struct Output {
    int status{-1};   //!< exit status; -1 when it could not run or was killed
    std::string text; //!< stdout and stderr
};

//! Runs a shell command line (only ever built here from fixed words and paths this file
//! made), with its stderr in the output.
Output Run(const std::string& command)
{
    Output out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0)
        out.text.append(buf, n);
    const int status = ::pclose(pipe);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

//! The last line of a command's output, for error messages.
std::string LastLine(const std::string& text)
{
    std::string line, last;
    std::istringstream in{text};
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last;
}

//! The number before (`N Event messages`) or after (`Discarded events: N`) LABEL on the last
//! line that holds it.
bool Find(const std::string& text, const std::string& label, bool before, uint64_t& value)
{
    bool found = false;
    std::istringstream lines{text};
    std::string line;
    while (std::getline(lines, line)) {
        const size_t at = line.find(label);
        if (at == std::string::npos) continue;
        std::istringstream number{before ? line.substr(0, at) : line.substr(at + label.size())};
        found = bool(number >> value);
    }
    return found;
}

//! NAME's path on PATH, or empty.
std::string FindProgram(const char* name)
{
    const char* path = std::getenv("PATH");
    std::istringstream dirs{path ? path : "/usr/bin:/bin"};
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? std::string{"."} : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

//! The process-wide LTTng set-up, made by the first LTTng benchmark that runs: the provider
//! loaded, and (unless unavailable() says why not) a private session daemon of this user.
class Lttng
{
public:
    static Lttng& Get()
    {
        static Lttng lttng;
        return lttng;
    }
    //! Why no session can be recorded; empty when one can.
    const std::string& unavailable() const { return m_unavailable; }
    //! Why the provider is not loaded; empty when it is (the off price can be measured).
    const std::string& no_provider() const { return m_no_provider; }
    const fs::path& dir() const { return m_dir; }
    //! `lttng ARGS` against this file's session daemon.
    Output Command(const std::string& args) const
    {
        return Run(m_lttng + " --no-sessiond " + args);
    }
    const std::string& babeltrace() const { return m_babeltrace; }

private:
    Lttng()
    {
        if (::geteuid() == 0) {
            m_unavailable = "running as root, whose user-space tracing belongs to the system's "
                            "lttng-sessiond; run as an unprivileged user (bench/peers.sh does)";
        } else {
            StartSessiond();
        }
        LoadProvider();
        if (m_unavailable.empty() && !m_no_provider.empty()) m_unavailable = m_no_provider;
    }
    ~Lttng()
    {
        if (m_sessiond > 0) {
            ::kill(m_sessiond, SIGTERM);
            int status;
            for (int i = 0; i < 100 && ::waitpid(m_sessiond, &status, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds{50});
            if (::waitpid(m_sessiond, &status, WNOHANG) == 0) {
                ::kill(m_sessiond, SIGKILL);
                ::waitpid(m_sessiond, &status, 0);
            }
        }
        std::error_code ec;
        if (!m_dir.empty()) fs::remove_all(m_dir, ec);
    }

    void StartSessiond()
    {
        m_lttng = FindProgram("lttng");
        const std::string sessiond = FindProgram("lttng-sessiond");
        m_babeltrace = FindProgram("babeltrace2");
        if (m_lttng.empty() || sessiond.empty() || m_babeltrace.empty()) {
            m_unavailable = "lttng, lttng-sessiond or babeltrace2 not on PATH (Debian: apt-get "
                            "install lttng-tools babeltrace2)";
            return;
        }
        // Traces go to memory when /dev/shm is there, as the tracering ring is in memory.
        const char* tmpdir = std::getenv("TMPDIR");
        std::string base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmpdir ? tmpdir : "/tmp";
        std::string templ = base + "/tracering-lttng-XXXXXX";
        if (!::mkdtemp(templ.data())) {
            m_unavailable = "cannot make a directory in " + base;
            return;
        }
        m_dir = templ;
        ::setenv("LTTNG_HOME", m_dir.c_str(), 1);
        const std::string log = (m_dir / "sessiond.log").string();
        const pid_t pid = ::fork();
        if (pid < 0) {
            m_unavailable = "fork failed";
            return;
        }
        if (pid == 0) {
            // The daemon ends with this process, even if it is killed.
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            ::execl(sessiond.c_str(), "lttng-sessiond", "--no-kernel", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        m_sessiond = pid;
        // Ready once the client reaches it (10 s at most).
        for (int i = 0; i < 200; ++i) {
            int status;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                m_sessiond = 0;
                std::ifstream in{log};
                std::stringstream text;
                text << in.rdbuf();
                m_unavailable = "lttng-sessiond exited: " + LastLine(text.str());
                return;
            }
            if (Command("list").status == 0) return;
            std::this_thread::sleep_for(std::chrono::milliseconds{50});
        }
        m_unavailable = "lttng-sessiond did not answer within 10 s";
    }

    void LoadProvider()
    {
        std::error_code ec;
        const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        const fs::path provider = exe.parent_path() / TRACERING_BENCH_LTTNG_PROVIDER;
        // liblttng-ust registers with the session daemon before dlopen returns.
        if (!::dlopen(provider.c_str(), RTLD_NOW)) {
            const char* error = ::dlerror();
            m_no_provider =
                "cannot load the LTTng provider: " + std::string{error ? error : provider.string()};
        }
    }

    std::string m_unavailable;
    std::string m_no_provider;
    std::string m_lttng;
    std::string m_babeltrace;
    fs::path m_dir;
    pid_t m_sessiond{0};
};

//! A recording session of tracering_bench:inbound_message into a new directory: one channel
//! of 4 sub-buffers of 1 MiB per CPU (tracering's ring in ring_bench.cpp is 4 MiB), per-user
//! buffers, discard mode (a full buffer drops the new event and counts it). Started on
//! construction; destroyed, and its trace removed, on destruction.
class Session
{
public:
    Session(const Lttng& lttng, const char* what) : m_lttng{lttng}
    {
        static int serial = 0;
        m_name = std::string{"bench-"} + what + "-" + std::to_string(++serial);
        m_output = lttng.dir() / m_name;
        const std::string s = " --session=" + m_name;
        const std::string steps[] = {
            "create " + m_name + " --output=" + m_output.string(),
            "enable-channel --userspace" + s +
                " --subbuf-size=1M --num-subbuf=4 --discard --buffers-uid ch",
            "enable-event --userspace" + s + " --channel=ch tracering_bench:inbound_message",
            "start " + m_name,
        };
        for (const auto& step : steps) {
            const Output out = lttng.Command(step);
            if (out.status != 0) {
                m_error = "lttng " + step + ": " + LastLine(out.text);
                return;
            }
            m_created = true;
        }
        // The daemon has told this process by now; wait for it if not (10 s at most).
        for (int i = 0; i < 1000 && !lttng_ust_tracepoint_enabled(tracering_bench, inbound_message);
             ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        if (!lttng_ust_tracepoint_enabled(tracering_bench, inbound_message))
            m_error = "the session started but tracering_bench:inbound_message is not enabled in "
                      "this process";
    }
    ~Session()
    {
        if (m_created) m_lttng.Command("destroy " + m_name);
        std::error_code ec;
        fs::remove_all(m_output, ec);
    }
    const std::string& error() const { return m_error; }

    //! `lttng stop`: returns once the consumer daemon has written every recorded event.
    bool Stop()
    {
        const Output out = m_lttng.Command("stop " + m_name);
        if (out.status != 0) m_error = "lttng stop: " + LastLine(out.text);
        return out.status == 0;
    }

    //! The events in the stopped trace (babeltrace2's counter) and the events the channel
    //! discarded (`lttng list`'s statistics).
    bool Count(uint64_t& delivered, uint64_t& discarded)
    {
        const Output read = Run(m_lttng.babeltrace() + " " + m_output.string() +
                                " --component=sink.utils.counter --params=step=+0");
        const Output list = m_lttng.Command("list " + m_name);
        if (read.status != 0 || !Find(read.text, "Event messages", true, delivered)) {
            m_error = "babeltrace2 counter: " + LastLine(read.text);
            return false;
        }
        if (list.status != 0 || !Find(list.text, "Discarded events:", false, discarded)) {
            m_error = "lttng list " + m_name + ": " + LastLine(list.text);
            return false;
        }
        return true;
    }

private:
    const Lttng& m_lttng;
    std::string m_name;
    fs::path m_output;
    std::string m_error;
    bool m_created{false};
};

int64_t g_evaluations = 0;
int64_t Expensive()
{
    ++g_evaluations;
    return 1;
}

inline void Emit(int64_t peer_id)
{
    lttng_ust_tracepoint(tracering_bench, inbound_message, peer_id, ADDR, CONN_TYPE, MSG_TYPE,
                         sizeof(PING_NONCE), PING_NONCE);
}

//! The off price: the provider is registered with the session daemon, no session enables
//! the event (as BM_Tracepoint_Off and BM_Usdt_Off measure theirs).
void BM_Lttng_Off(benchmark::State& state)
{
    const Lttng& lttng = Lttng::Get();
    if (!lttng.no_provider().empty()) {
        state.SkipWithError(lttng.no_provider().c_str());
        return;
    }
    g_evaluations = 0;
    for (auto _ : state) {
        lttng_ust_tracepoint(tracering_bench, inbound_message, Expensive(), ADDR, CONN_TYPE,
                             MSG_TYPE, sizeof(PING_NONCE), PING_NONCE);
        benchmark::ClobberMemory();
    }
    state.counters["args_evaluated"] = double(g_evaluations);
    state.counters["session_daemon"] = lttng.unavailable().empty() ? 1 : 0;
}
BENCHMARK(BM_Lttng_Off)->Apply(Smoke);

//! The producer's cost while the consumer daemon keeps up, as ring_bench.cpp's TimeProducer
//! measures tracering's: batches of 4096 events are timed; between them (untimed) the
//! benchmark sleeps 1 ms, in which lttng-consumerd, woken when a sub-buffer fills, writes out
//! what filled. A batch is ~1/4 of a sub-buffer, so nothing is discarded; `lost` shows it.
void BM_Lttng_InboundMessage_Ping(benchmark::State& state)
{
    const Lttng& lttng = Lttng::Get();
    if (!lttng.unavailable().empty()) {
        state.SkipWithError(("LTTng skipped: " + lttng.unavailable()).c_str());
        return;
    }
    Session session{lttng, "ping"};
    if (!session.error().empty()) {
        state.SkipWithError(session.error().c_str());
        return;
    }
    uint64_t i = 0;
    double seconds = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        for (uint64_t k = 0; k < BATCH; ++k)
            Emit(int64_t(i++));
        const auto end = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(end - start).count();
        state.SetIterationTime(elapsed);
        seconds += elapsed;
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    uint64_t delivered = 0, discarded = 0;
    if (!session.Stop() || !session.Count(delivered, discarded)) {
        state.SkipWithError(session.error().c_str());
        return;
    }
    state.SetItemsProcessed(int64_t(i));
    state.counters["ns_per_event"] = i ? seconds * 1e9 / double(i) : 0;
    state.counters["attempted"] = double(i);
    state.counters["delivered"] = double(delivered);
    state.counters["lost"] = double(discarded);
}
BENCHMARK(BM_Lttng_InboundMessage_Ping)->Iterations(250)->UseManualTime()->Apply(Smoke);

//! Full rate: this thread writes 2,000,000 events as fast as it can while lttng-consumerd
//! writes the trace. The time runs from the first event until `lttng stop` returns (the
//! consumer daemon has written everything), so items/s counts delivered events over the
//! whole transfer, as BM_Ring_ProducerConsumer does; producer_ns_per_event is the writing
//! alone. lost is LTTng's count of discarded events; attempted = delivered + lost.
void BM_Lttng_FullRate(benchmark::State& state)
{
    const Lttng& lttng = Lttng::Get();
    if (!lttng.unavailable().empty()) {
        state.SkipWithError(("LTTng skipped: " + lttng.unavailable()).c_str());
        return;
    }
    const uint64_t events = FullRateEvents();
    uint64_t attempted = 0, delivered = 0, lost = 0;
    double writing = 0;
    for (auto _ : state) {
        Session session{lttng, "full"};
        if (!session.error().empty()) {
            state.SkipWithError(session.error().c_str());
            return;
        }
        const auto start = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < events; ++i)
            Emit(int64_t(i));
        const auto written = std::chrono::steady_clock::now();
        const bool stopped = session.Stop();
        const auto end = std::chrono::steady_clock::now();
        state.SetIterationTime(std::chrono::duration<double>(end - start).count());
        writing += std::chrono::duration<double>(written - start).count();
        uint64_t got = 0, discarded = 0;
        if (!stopped || !session.Count(got, discarded)) {
            state.SkipWithError(session.error().c_str());
            return;
        }
        attempted += events;
        delivered += got;
        lost += discarded;
    }
    state.SetItemsProcessed(int64_t(delivered));
    state.counters["attempted"] = double(attempted);
    state.counters["delivered"] = double(delivered);
    state.counters["lost"] = double(lost);
    state.counters["producer_ns_per_event"] = attempted ? writing * 1e9 / double(attempted) : 0;
}
BENCHMARK(BM_Lttng_FullRate)
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Apply(Smoke);

} // namespace
