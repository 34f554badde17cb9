// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "extractor.h"

#include <tracering/consumer.h>
#include <tracering/control.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "extractor/convert/convert.h"
#include "log.h"
#include "metrics_server.h"

namespace tracering::extractor {
namespace {

using Clock = std::chrono::steady_clock;

//! Records taken from one ring before the next ring gets its turn.
constexpr size_t POLL_BATCH = 1024;
//! Records read before their space is handed back to the node within a batch.
constexpr size_t RELEASE_EVERY = 64;
//! While the node is away, the same reason is logged again at most this often.
constexpr std::chrono::seconds WAITING_LOG_INTERVAL{60};

//! The events peer-observer's ebpf-extractor traces, by its groups (--no-*-tracepoints).
const std::vector<std::string> P2PMSG_EVENTS{"inbound_message", "outbound_message"};
const std::vector<std::string> CONNECTION_EVENTS{"inbound_connection", "outbound_connection",
                                                 "closed_connection", "evicted_inbound_connection",
                                                 "misbehaving_connection"};
const std::vector<std::string> MEMPOOL_EVENTS{"added", "removed", "replaced", "rejected"};
const std::vector<std::string> VALIDATION_EVENTS{"block_connected"};

struct Plan {
    Ring ring;
    RingRequest request;
};

//! The rings and events to attach; a ring none of whose events is wanted is left out.
std::vector<Plan> MakePlans(const ExtractorOptions& options)
{
    std::vector<Plan> plans;
    const auto add = [&](Ring ring, std::vector<std::string> events) {
        if (events.empty()) return;
        RingRequest request;
        request.ring = std::string{RingName(ring)};
        request.events = std::move(events);
        request.lossless = options.lossless;
        plans.push_back({ring, std::move(request)});
    };
    std::vector<std::string> net;
    if (options.p2pmsg) net.insert(net.end(), P2PMSG_EVENTS.begin(), P2PMSG_EVENTS.end());
    if (options.connection) {
        net.insert(net.end(), CONNECTION_EVENTS.begin(), CONNECTION_EVENTS.end());
    }
    add(Ring::Net, std::move(net));
    if (options.mempool) add(Ring::Mempool, MEMPOOL_EVENTS);
    if (options.validation) add(Ring::Validation, VALIDATION_EVENTS);
    return plans;
}

//! Whether the producer detached `reader` (a slow reader evicted, a bad cursor) rather than
//! exiting: a detach takes the reader's line out of the ring's readers, an exit leaves it.
bool DetachedByProducer(const RingReader& reader)
{
    const RingInfo info = reader.Info();
    return std::none_of(info.readers.begin(), info.readers.end(),
                        [&](const ReaderInfo& r) { return r.slot == reader.slot(); });
}

//! Record time (CLOCK_MONOTONIC ns) to UNIX time: the offset UnixClockOffsetNow() measures,
//! measured again every second, and adopted when it moved by more than 0.1 ms (the system
//! time was stepped, e.g. by NTP), so events keep their true UNIX time; the same rule as
//! ringdump's ClockTracker, whose header is ringdump's own.
class UnixClock
{
public:
    static constexpr int64_t STEP_NS = 100'000;
    static constexpr std::chrono::seconds INTERVAL{1};

    //! `timestamp_ns` as milliseconds since the UNIX epoch.
    uint64_t Ms(uint64_t timestamp_ns) const
    {
        const int64_t unix_ns = int64_t(timestamp_ns) + m_offset;
        return unix_ns > 0 ? uint64_t(unix_ns) / 1'000'000 : 0;
    }
    void Update()
    {
        const Clock::time_point now = Clock::now();
        if (now - m_measured < INTERVAL) return;
        m_measured = now;
        const int64_t offset = UnixClockOffsetNow();
        if (std::llabs(offset - m_offset) > STEP_NS) m_offset = offset;
    }

private:
    int64_t m_offset{UnixClockOffsetNow()};
    Clock::time_point m_measured{Clock::now()};
};

class Loop
{
public:
    Loop(const ExtractorOptions& options, const std::atomic<bool>& stop, Counters& counters,
         NatsPublisher& publisher)
        : m_options{options}, m_stop{stop}, m_counters{counters},
          m_publisher{publisher}, m_plans{MakePlans(options)}
    {
    }

    int Run()
    {
        Backoff backoff;
        Clock::time_point next_attempt = Clock::now();
        m_next_stats = Clock::now() + StatsInterval();
        while (!m_stop.load(std::memory_order_relaxed)) {
            if (!m_session) {
                if (Clock::now() >= next_attempt) {
                    if (const std::optional<int> code = TryAttach()) return *code;
                    next_attempt = Clock::now() + m_options.retry;
                }
                if (!m_session) {
                    Periodic();
                    std::this_thread::sleep_for(std::chrono::milliseconds{20});
                    continue;
                }
                backoff.Reset();
            }
            size_t work = 0;
            double fill = 0;
            std::optional<Error> ended;
            size_t ended_reader = 0;
            for (size_t i = 0; i < m_readers.size() && !ended; ++i) {
                std::optional<Error> error;
                work += PollReader(i, error);
                fill = std::max(fill, m_readers[i].reader->TakeReadFill());
                if (error) {
                    ended = std::move(error);
                    ended_reader = i;
                }
            }
            if (ended) {
                EndSession(*ended, ended_reader);
                next_attempt = Clock::now(); // the socket may answer already (a restart)
            }
            Periodic();
            backoff.Idle(work, fill);
        }
        if (m_session) {
            // Stopped: what the rings hold now belongs to what happened before the stop.
            for (size_t i = 0; i < m_readers.size(); ++i)
                Drain(i);
            CloseSession();
        }
        return EXIT_OK;
    }

    //! Logs the stats line.
    void Stats() { Log(LogLevel::Info, "%s", StatsLine(m_counters).c_str()); }

private:
    struct Reader {
        Ring ring;
        RingReader* reader;
        std::optional<uint64_t> first_seq; //!< where it started, once known
        uint64_t skipped_at_start{0};
        uint64_t lost_reported{0}; //!< ReaderStats::lost already added to the counters
        LogLimiter lost_log;
    };

    Clock::duration StatsInterval() const
    {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>{m_options.stats_interval_s});
    }

    //! Clock, NATS and the stats line: work due whether or not events arrive.
    void Periodic()
    {
        m_clock.Update();
        m_publisher.Maintain();
        if (m_options.stats_interval_s > 0 && Clock::now() >= m_next_stats) {
            Stats();
            m_next_stats = Clock::now() + StatsInterval();
        }
    }

    //! Logs why the node cannot be reached: at once when the reason changes, else at most
    //! every WAITING_LOG_INTERVAL.
    void Waiting(const std::string& why)
    {
        const Clock::time_point now = Clock::now();
        if (why == m_waiting_for && now - m_waiting_logged < WAITING_LOG_INTERVAL) return;
        const bool again = why == m_waiting_for;
        m_waiting_for = why;
        m_waiting_logged = now;
        Log(again ? LogLevel::Info : LogLevel::Warn, "%s the node at %s: %s; trying every %lld ms",
            again ? "still waiting for" : "cannot attach to", m_options.control.c_str(),
            why.c_str(), (long long)m_options.retry.count());
    }

    //! Connects and attaches. nullopt to go on (attached, or to try again later), or the
    //! exit code of an error that waiting cannot fix.
    std::optional<int> TryAttach()
    {
        auto connected = ControlClient::Connect(m_options.control);
        if (!connected) {
            const Error& e = connected.error();
            if (e.code() == ErrorCode::PermissionDenied) {
                Log(LogLevel::Error,
                    "%s: run the extractor as the node's user, or as a member of the group the "
                    "node grants (bitcoind -traceringgroup)",
                    e.message().c_str());
                return EXIT_UNAVAILABLE;
            }
            if (e.code() == ErrorCode::VersionMismatch) {
                Log(LogLevel::Error, "%s: use an extractor built with the node's tracering",
                    e.message().c_str());
                return EXIT_MISMATCH;
            }
            Waiting(e.message());
            return std::nullopt;
        }
        std::vector<RingRequest> requests;
        for (const Plan& plan : m_plans)
            requests.push_back(plan.request);
        auto attached = (*connected)->Attach(requests);
        if (!attached) {
            const Error& e = attached.error();
            if (e.code() == ErrorCode::VersionMismatch) {
                Log(LogLevel::Error, "%s: use an extractor built with the node's tracering",
                    e.message().c_str());
                return EXIT_MISMATCH;
            }
            if (e.code() == ErrorCode::InvalidArgument) {
                Log(LogLevel::Error,
                    "the node refused the rings the extractor asks for: %s (a node older than "
                    "this extractor? the --no-*-tracepoints flags leave groups out)",
                    e.message().c_str());
                return EXIT_USAGE;
            }
            Waiting(e.message());
            return std::nullopt;
        }
        m_client = std::move(connected.value());
        m_session = std::move(attached.value());
        m_readers.clear();
        std::string rings;
        for (const Plan& plan : m_plans) {
            RingReader* reader = m_session->reader(plan.request.ring);
            if (!reader) continue; // Attach() opened every requested ring, or failed
            m_readers.push_back(Reader{.ring = plan.ring,
                                       .reader = reader,
                                       .first_seq = reader->next_seq(),
                                       .skipped_at_start = reader->stats().skipped});
            rings += (rings.empty() ? "" : ", ") + plan.request.ring + " (" +
                     std::to_string(plan.request.events.size()) + " events)";
        }
        const ProducerDescription& producer = m_client->producer();
        m_counters.attaches.fetch_add(1, std::memory_order_relaxed);
        m_counters.node_attached.store(1, std::memory_order_relaxed);
        m_counters.node_pid.store(producer.producer_pid, std::memory_order_relaxed);
        if (m_last_pid != 0 && m_last_pid != producer.producer_pid) {
            Log(LogLevel::Info, "the node restarted: pid %llu, was %llu",
                (unsigned long long)producer.producer_pid, (unsigned long long)m_last_pid);
        }
        Log(LogLevel::Info, "attached to the node at %s (pid %llu, segment %s)%s: %s",
            m_options.control.c_str(), (unsigned long long)producer.producer_pid,
            producer.segment_name.c_str(), m_options.lossless ? ", lossless" : "", rings.c_str());
        m_last_pid = producer.producer_pid;
        m_waiting_for.clear();
        return std::nullopt;
    }

    //! Reads up to POLL_BATCH events of reader `i`, publishing each; how many. Sets `error`
    //! when the ring has ended (the node exited, died or detached the reader) or is corrupt.
    size_t PollReader(size_t i, std::optional<Error>& error)
    {
        Reader& r = m_readers[i];
        EventView view;
        size_t n = 0;
        Result<bool> next = false;
        while (n < POLL_BATCH) {
            next = r.reader->Next(view);
            if (!next || !next.value()) break;
            ++n;
            Handle(r.ring, view);
            if (n % RELEASE_EVERY == 0) r.reader->Release();
        }
        r.reader->Release();
        CountLost(r, 0);
        if (!next) error = next.error();
        return n;
    }

    //! Reads what reader `i`'s ring attempted up to now (not what the node writes meanwhile,
    //! which could go on for ever), or until it ends; the rest becomes its tail.
    void Drain(size_t i)
    {
        const Reader& r = m_readers[i];
        const uint64_t until = r.reader->Info().seq;
        std::optional<Error> error;
        while (!error && r.reader->next_seq().value_or(0) < until && PollReader(i, error) > 0) {
        }
    }

    void Handle(Ring ring, const EventView& view)
    {
        RingCounters& counters = m_counters.of(ring);
        counters.read.fetch_add(1, std::memory_order_relaxed);
        std::optional<Converted> converted = Convert(view, m_clock.Ms(view.timestamp_ns()));
        if (!converted) {
            counters.skipped.fetch_add(1, std::memory_order_relaxed);
            if (LogEnabled(LogLevel::Debug)) {
                Log(LogLevel::Debug,
                    "%s ring: event type %u seq %llu has no peer-observer "
                    "message (skipped)",
                    std::string{RingName(ring)}.c_str(), unsigned(view.raw_type()),
                    (unsigned long long)view.seq());
            }
            return;
        }
        if (converted->undecodable) {
            m_counters.of(converted->subject).undecodable.fetch_add(1, std::memory_order_relaxed);
            uint64_t held_back = 0;
            if (m_undecodable_log.Allow(held_back)) {
                Log(LogLevel::Info,
                    "%s ring seq %llu: a P2P payload that does not decode (%s), published as "
                    "Unknown and counted as undecodable (%llu more since the last such line)",
                    std::string{RingName(ring)}.c_str(), (unsigned long long)view.seq(),
                    converted->error.c_str(), (unsigned long long)held_back);
            }
        }
        m_publisher.Publish(converted->subject, converted->bytes);
    }

    //! Adds the reader's new gaps (and `tail`, events after its last read) to the lost count.
    void CountLost(Reader& r, uint64_t tail)
    {
        const uint64_t lost = r.reader->stats().lost;
        const uint64_t added = lost - r.lost_reported + tail;
        r.lost_reported = lost;
        if (added == 0) return;
        const uint64_t total =
            m_counters.of(r.ring).lost.fetch_add(added, std::memory_order_relaxed) + added;
        uint64_t held_back = 0;
        if (r.lost_log.Allow(held_back)) {
            Log(LogLevel::Warn,
                "%s ring: the node dropped %llu events before the extractor read them (%llu in "
                "all): the extractor fell behind, or the ring is too small",
                std::string{RingName(r.ring)}.c_str(), (unsigned long long)added,
                (unsigned long long)total);
        }
    }

    //! Events of the reader's ring after its last read that it never read: what the ring
    //! attempted since the reader started, less what it delivered, skipped (other readers'
    //! events) or counted as lost already.
    uint64_t Tail(const Reader& r) const
    {
        const std::optional<uint64_t> next = r.reader->next_seq();
        if (!next) return 0; // it read nothing and does not know where it began
        const uint64_t end_seq = std::max(r.reader->Info().seq, *next);
        const ReaderStats& s = r.reader->stats();
        if (!r.first_seq) return end_seq - *next;
        const uint64_t accounted = s.delivered + (s.skipped - r.skipped_at_start) + s.lost;
        const uint64_t attempted = end_seq - *r.first_seq;
        return attempted > accounted ? attempted - accounted : 0;
    }

    //! Counts the rings' tails and gives the rings back.
    void CloseSession()
    {
        for (Reader& r : m_readers)
            CountLost(r, Tail(r));
        m_readers.clear();
        m_session.reset();
        m_client.reset();
        m_counters.node_attached.store(0, std::memory_order_relaxed);
        m_counters.node_pid.store(0, std::memory_order_relaxed);
    }

    //! Reader `ended` returned `error`: reads what the other rings still hold, says why the
    //! session ended, and closes it.
    void EndSession(const Error& error, size_t ended)
    {
        for (size_t i = 0; i < m_readers.size(); ++i) {
            if (i != ended) Drain(i);
        }
        const Reader& r = m_readers[ended];
        const std::string ring{RingName(r.ring)};
        if (error.code() == ErrorCode::Stale) {
            Log(LogLevel::Warn,
                "the node (pid %llu) died without shutting down: %s; attaching again when its "
                "socket answers",
                (unsigned long long)m_last_pid, error.message().c_str());
        } else if (error.code() == ErrorCode::Detached && DetachedByProducer(*r.reader)) {
            Log(LogLevel::Warn,
                "the node (pid %llu) detached the extractor's %s reader (%s): the extractor was "
                "too slow, or its lease ended; attaching again",
                (unsigned long long)m_last_pid, ring.c_str(), error.message().c_str());
        } else if (error.code() == ErrorCode::Detached) {
            Log(LogLevel::Info,
                "the node (pid %llu) shut down; every event it wrote was read; attaching again "
                "when its socket answers",
                (unsigned long long)m_last_pid);
        } else {
            Log(LogLevel::Error, "reading the %s ring failed: %s; attaching again", ring.c_str(),
                error.message().c_str());
        }
        CloseSession();
    }

    const ExtractorOptions& m_options;
    const std::atomic<bool>& m_stop;
    Counters& m_counters;
    NatsPublisher& m_publisher;
    std::vector<Plan> m_plans;
    UnixClock m_clock;
    std::unique_ptr<ControlClient> m_client;
    std::unique_ptr<Session> m_session;
    std::vector<Reader> m_readers;
    uint64_t m_last_pid{0};
    std::string m_waiting_for;
    LogLimiter m_undecodable_log;
    Clock::time_point m_waiting_logged;
    Clock::time_point m_next_stats;
};

} // namespace

int Run(const ExtractorOptions& options, const std::atomic<bool>& stop)
{
    Counters counters;
    std::unique_ptr<MetricsServer> metrics;
    if (!options.metrics_address.empty()) {
        auto started = MetricsServer::Start(options.metrics_address, counters);
        if (!started) {
            Log(LogLevel::Error, "%s", started.error().message().c_str());
            return started.error().code() == ErrorCode::InvalidArgument ? EXIT_USAGE
                                                                        : EXIT_UNAVAILABLE;
        }
        metrics = std::move(started.value());
        Log(LogLevel::Info, "metrics at http://%s/metrics", metrics->address().c_str());
    }
    auto publisher = NatsPublisher::Connect(options.nats, counters);
    if (!publisher) {
        Log(LogLevel::Error, "%s", publisher.error().message().c_str());
        return publisher.error().code() == ErrorCode::InvalidArgument ? EXIT_USAGE
                                                                      : EXIT_UNAVAILABLE;
    }
    int code = EXIT_OK;
    {
        Loop loop{options, stop, counters, **publisher};
        code = loop.Run();
        // The last confirmation of what was published, before the last stats line.
        publisher->reset();
        loop.Stats();
    }
    return code;
}

} // namespace tracering::extractor
