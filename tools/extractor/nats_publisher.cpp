// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "nats_publisher.h"

#include <thread>

#include <nats/nats.h>

namespace tracering::extractor {

//! nats.c calls these on its own callback thread (one for the whole library), with the
//! publisher as closure. They only write the connection fields of Counters and log; the
//! publisher's own state belongs to the main loop.
namespace {
//! The max_payload below which a block event can be refused: a 4,000,000-byte block (Bitcoin
//! Core's largest P2P message) becomes a somewhat larger Block message, with every
//! transaction's raw bytes and hashes (tools/extractor/README.md).
constexpr int64_t ADVISED_MAX_PAYLOAD = 5 * 1024 * 1024;

//! The line for a connection made (`what`: "connected" or "reconnected"), and a warning when
//! the server's max_payload is too small for the largest events.
void LogConnected(const char* what, const std::string& url, natsConnection* connection,
                  const char* tail)
{
    const int64_t max_payload = natsConnection_GetMaxPayload(connection);
    Log(LogLevel::Info, "%s NATS at %s (max_payload %lld bytes)%s", what, url.c_str(),
        (long long)max_payload, tail);
    if (max_payload < ADVISED_MAX_PAYLOAD) {
        Log(LogLevel::Warn,
            "NATS at %s takes messages of at most %lld bytes: larger ones (big blocks) will be "
            "refused and counted as refused; set max_payload: 5MB in nats-server's "
            "configuration, as for peer-observer's ebpf-extractor",
            url.c_str(), (long long)max_payload);
    }
}
} // namespace

struct NatsPublisher::Callbacks {
    static std::string LastError(natsConnection* connection)
    {
        const char* text = nullptr;
        if (natsConnection_GetLastError(connection, &text) != NATS_OK && text && *text) {
            return text;
        }
        return "the connection closed";
    }
    static void Connected(natsConnection* connection, void* closure)
    {
        auto* self = static_cast<NatsPublisher*>(closure);
        self->m_counters.nats_connected.store(1, std::memory_order_relaxed);
        LogConnected("connected to", self->m_url, connection, "");
    }
    static void Disconnected(natsConnection* connection, void* closure)
    {
        auto* self = static_cast<NatsPublisher*>(closure);
        self->m_counters.nats_connected.store(0, std::memory_order_relaxed);
        if (self->m_closing.load(std::memory_order_relaxed)) return;
        self->m_counters.nats_disconnects.fetch_add(1, std::memory_order_relaxed);
        Log(LogLevel::Warn,
            "lost the connection to NATS at %s (%s); reconnecting every second, and events "
            "read meanwhile are counted as failed",
            self->m_url.c_str(), LastError(connection).c_str());
    }
    static void Reconnected(natsConnection* connection, void* closure)
    {
        auto* self = static_cast<NatsPublisher*>(closure);
        self->m_counters.nats_connected.store(1, std::memory_order_relaxed);
        self->m_counters.nats_reconnects.fetch_add(1, std::memory_order_relaxed);
        LogConnected("reconnected to", self->m_url, connection, "; publishing again");
    }
    static void Closed(natsConnection* connection, void* closure)
    {
        auto* self = static_cast<NatsPublisher*>(closure);
        self->m_counters.nats_connected.store(0, std::memory_order_relaxed);
        Log(LogLevel::Debug, "the NATS connection to %s is closed (%s)", self->m_url.c_str(),
            LastError(connection).c_str());
        self->m_closed_called.store(true, std::memory_order_release);
    }
    static void AsyncError(natsConnection*, natsSubscription*, natsStatus status, void* closure)
    {
        auto* self = static_cast<NatsPublisher*>(closure);
        Log(LogLevel::Warn, "NATS at %s reported an error: %s", self->m_url.c_str(),
            natsStatus_GetText(status));
    }
};

namespace {

//! nats.c's text for its last error on this thread, or `status`'s; without the source
//! location nats.c puts first ("(conn.c:1905): Authorization Violation").
std::string NatsError(natsStatus status)
{
    natsStatus last = NATS_OK;
    const char* text = nats_GetLastError(&last);
    if (!text || !*text) return natsStatus_GetText(status);
    std::string message = text;
    if (const size_t end = message.find("): "); message[0] == '(' && end != std::string::npos) {
        message.erase(0, end + 3);
    }
    return message;
}

} // namespace

Result<std::unique_ptr<NatsPublisher>> NatsPublisher::Connect(const NatsOptions& options,
                                                              Counters& counters)
{
    std::unique_ptr<NatsPublisher> publisher{new NatsPublisher{counters}};
    publisher->m_options = options;
    publisher->m_url = options.address.find("://") == std::string::npos
                           ? "nats://" + options.address
                           : options.address;
    if (Result<void> r = publisher->Open(/*first=*/true); !r) return r.error();
    return publisher;
}

Result<void> NatsPublisher::Open(bool first)
{
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, m_url.c_str());
    if (s != NATS_OK) {
        const std::string why = NatsError(s);
        natsOptions_Destroy(opts);
        return Error{ErrorCode::InvalidArgument, "-a/--nats-address '" + m_options.address +
                                                     "' is not a NATS address (" + why +
                                                     "); give HOST:PORT, e.g. 127.0.0.1:4222"};
    }
    if (!m_options.username.empty()) {
        s = natsOptions_SetUserInfo(opts, m_options.username.c_str(), m_options.password.c_str());
    }
    if (s == NATS_OK) s = natsOptions_SetName(opts, "tracering-extractor");
    // Forever, every second: the extractor outlives NATS restarts.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 1000);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, Callbacks::Disconnected, this);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, Callbacks::Reconnected, this);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, Callbacks::Closed, this);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, Callbacks::AsyncError, this);
    if (s != NATS_OK) {
        const std::string why = NatsError(s);
        natsOptions_Destroy(opts);
        return Error{ErrorCode::SystemError, "setting up the NATS connection: " + why};
    }
    natsConnection* connection = nullptr;
    m_closed_called.store(false, std::memory_order_relaxed);
    // First in the foreground, so that a server that refuses the credentials is an error
    // the operator sees at once; a server that is not up yet is waited for.
    s = natsConnection_Connect(&connection, opts);
    if (s == NATS_NO_SERVER || s == NATS_IO_ERROR || s == NATS_TIMEOUT) {
        natsConnection_Destroy(connection);
        connection = nullptr;
        s = natsOptions_SetRetryOnFailedConnect(opts, true, Callbacks::Connected, this);
        if (s == NATS_OK) s = natsConnection_Connect(&connection, opts);
    }
    if (s == NATS_OK) {
        m_counters.nats_connected.store(1, std::memory_order_relaxed);
        LogConnected("connected to", m_url, connection, "");
    } else if (s == NATS_NOT_YET_CONNECTED) {
        Log(LogLevel::Warn,
            "NATS at %s is not reachable yet; trying every second, and events read meanwhile "
            "are counted as failed",
            m_url.c_str());
    } else {
        const std::string why = NatsError(s);
        natsConnection_Destroy(connection);
        natsOptions_Destroy(opts);
        const bool auth = s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED;
        std::string message = "cannot connect to NATS at " + m_url + ": " + why;
        if (auth) message += " (check -u/--nats-username and -p/--nats-password or -f)";
        if (s == NATS_INVALID_ARG) {
            message += " (give -a/--nats-address as HOST:PORT, e.g. 127.0.0.1:4222)";
        }
        if (!first) {
            Log(LogLevel::Error, "%s; trying again in %llds", message.c_str(),
                (long long)RECREATE_INTERVAL.count());
        }
        return Error{auth                    ? ErrorCode::PermissionDenied
                     : s == NATS_INVALID_ARG ? ErrorCode::InvalidArgument
                                             : ErrorCode::SystemError,
                     std::move(message)};
    }
    m_nats_options = opts;
    m_connection = connection;
    m_closing.store(false, std::memory_order_relaxed);
    m_reconnects_seen = Reconnects();
    m_last_confirm = std::chrono::steady_clock::now();
    return {};
}

void NatsPublisher::Close()
{
    m_closing.store(true, std::memory_order_relaxed);
    if (m_connection) {
        natsConnection_Close(m_connection);
        // nats.c calls back on its own thread after the close; the publisher is the
        // callbacks' closure, so it must not go away before the last one (Closed) ran.
        const auto deadline = std::chrono::steady_clock::now() + CONFIRM_TIMEOUT;
        while (!m_closed_called.load(std::memory_order_acquire) &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds{1});
        }
        natsConnection_Destroy(m_connection);
        m_connection = nullptr;
    }
    if (m_nats_options) {
        natsOptions_Destroy(m_nats_options);
        m_nats_options = nullptr;
    }
    m_counters.nats_connected.store(0, std::memory_order_relaxed);
}

NatsPublisher::~NatsPublisher()
{
    Confirm(/*force=*/true);
    CountUnconfirmed("the extractor stopped before NATS confirmed them");
    Close();
}

bool NatsPublisher::Connected()
{
    return m_connection && natsConnection_Status(m_connection) == NATS_CONN_STATUS_CONNECTED;
}

uint64_t NatsPublisher::Reconnects()
{
    natsStatistics* stats = nullptr;
    uint64_t reconnects = 0;
    if (m_connection && natsStatistics_Create(&stats) == NATS_OK) {
        if (natsConnection_GetStats(m_connection, stats) == NATS_OK) {
            natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects);
        }
        natsStatistics_Destroy(stats);
    }
    return reconnects;
}

void NatsPublisher::CountUnconfirmed(const char* why)
{
    if (m_unconfirmed_total == 0) return;
    for (size_t i = 0; i < SUBJECT_COUNT; ++i) {
        m_counters.subjects[i].unconfirmed.fetch_add(m_since_confirm[i], std::memory_order_relaxed);
        m_since_confirm[i] = 0;
    }
    Log(LogLevel::Warn, "%llu published messages may be lost: %s (counted as unconfirmed)",
        (unsigned long long)m_unconfirmed_total, why);
    m_unconfirmed_total = 0;
}

NatsPublisher::Outcome NatsPublisher::Publish(Subject subject, const std::string& bytes)
{
    SubjectCounters& counters = m_counters.of(subject);
    uint64_t held_back = 0;
    if (!Connected()) {
        // Nothing goes into nats.c's reconnect buffer: its fate would be unknown. What was
        // published before the outage and not confirmed may be lost with the connection.
        if (!m_was_down) {
            m_was_down = true;
            CountUnconfirmed("the NATS connection broke before the server confirmed them");
        }
        counters.failed.fetch_add(1, std::memory_order_relaxed);
        return Outcome::Failed;
    }
    if (m_was_down) {
        // Back after an outage whose unconfirmed messages are counted already.
        m_was_down = false;
        m_reconnects_seen = Reconnects();
    }
    const natsStatus s =
        natsConnection_Publish(m_connection, SubjectName(subject), bytes.data(), int(bytes.size()));
    if (s == NATS_OK) {
        counters.published.fetch_add(1, std::memory_order_relaxed);
        ++m_since_confirm[size_t(subject)];
        ++m_unconfirmed_total;
        return Outcome::Published;
    }
    if (s == NATS_MAX_PAYLOAD) {
        counters.refused.fetch_add(1, std::memory_order_relaxed);
        if (m_refused_log.Allow(held_back)) {
            Log(LogLevel::Warn,
                "NATS refused a %s message of %zu bytes: the server's max_payload is %lld bytes "
                "(counted as refused; %llu more since the last such line). Raise max_payload in "
                "the nats-server configuration (peer-observer asks for 5 MB)",
                SubjectName(subject), bytes.size(),
                (long long)natsConnection_GetMaxPayload(m_connection),
                (unsigned long long)held_back);
        }
        return Outcome::Refused;
    }
    counters.failed.fetch_add(1, std::memory_order_relaxed);
    if (m_failed_log.Allow(held_back)) {
        Log(LogLevel::Warn,
            "publishing a %s message of %zu bytes to NATS failed: %s (counted as failed; %llu "
            "more since the last such line)",
            SubjectName(subject), bytes.size(), NatsError(s).c_str(),
            (unsigned long long)held_back);
    }
    return Outcome::Failed;
}

void NatsPublisher::Maintain()
{
    const auto now = std::chrono::steady_clock::now();
    if (m_connection && natsConnection_Status(m_connection) == NATS_CONN_STATUS_CLOSED) {
        CountUnconfirmed("the NATS connection closed before the server confirmed them");
        const std::string why = Callbacks::LastError(m_connection);
        Close();
        m_closed_since = now;
        Log(LogLevel::Warn, "the NATS connection to %s closed (%s); making a new one in %llds",
            m_url.c_str(), why.c_str(), (long long)RECREATE_INTERVAL.count());
    }
    if (!m_connection) {
        if (now - m_closed_since >= RECREATE_INTERVAL) {
            m_closed_since = now;
            (void)Open(/*first=*/false); // logs why it failed
        }
        return;
    }
    Confirm();
}

void NatsPublisher::Confirm(bool force)
{
    const auto now = std::chrono::steady_clock::now();
    if (m_unconfirmed_total == 0 || !Connected()) return;
    if (!force && now - m_last_confirm < CONFIRM_INTERVAL) return;
    m_last_confirm = now;
    const natsStatus s = natsConnection_FlushTimeout(m_connection, CONFIRM_TIMEOUT.count());
    const uint64_t reconnects = Reconnects();
    if (s != NATS_OK) {
        CountUnconfirmed(s == NATS_TIMEOUT ? "NATS did not confirm them in time"
                                           : "the NATS connection broke before the server "
                                             "confirmed them");
    } else if (reconnects != m_reconnects_seen) {
        // Confirmed on a new connection: some may have gone down with the old one.
        CountUnconfirmed("the NATS connection was replaced before the server confirmed them");
    } else {
        m_since_confirm.fill(0);
        m_unconfirmed_total = 0;
    }
    m_reconnects_seen = reconnects;
}

} // namespace tracering::extractor
