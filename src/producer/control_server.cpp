// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "producer/control_server.h"

#include <tracering/control/control.capnp.h>
#include <tracering/schema_hash.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/debug.h>
#include <kj/io.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <future>
#include <map>
#include <pthread.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/process.h"
#include "common/unix_socket.h"

namespace tracering::detail {
namespace {

namespace msg = ::tracering::control::messages;

//! The largest control message a peer may send, in 8-byte words (a garbage length cannot
//! make the server allocate more).
constexpr uint64_t MAX_MESSAGE_WORDS = 1 << 17;
//! How long a refused connection stays open, at most, so its peer can read why it was
//! refused (a peer that reads it and hangs up frees it sooner).
constexpr uint32_t REFUSED_LINGER_MS = 1'000;
//! Refused connections kept open at once to say why; past this many, further refused ones
//! are closed at once, so refusing costs a bounded number of descriptors too.
constexpr size_t MAX_REFUSED = 16;
//! The shortest time between two messages on stderr about refused connections.
constexpr uint32_t REFUSAL_LOG_INTERVAL_MS = 60'000;
//! The uid counted for peers whose credentials cannot be read (no SO_PEERCRED): they all
//! share one user's limit.
constexpr uint64_t UNKNOWN_UID = ~uint64_t{0};

void FillStatus(msg::RingStatus::Builder out, const RingStats& s)
{
    out.setName(s.name);
    out.setIndex(static_cast<uint32_t>(s.subsystem));
    out.setStability(msg::Stability::SEMI_STABLE);
    out.setCapacity(s.capacity);
    out.setEnabled(s.enabled);
    out.setReaderPid(s.reader_pid);
    out.setSeq(s.seq);
    out.setWritePos(s.write_pos);
    out.setDroppedFull(s.dropped_full);
    out.setDroppedTooBig(s.dropped_too_big);
    out.setDroppedReaderReset(s.dropped_reader_reset);
    out.setDroppedTimeout(s.dropped_timeout);
    out.setCursorViolations(s.cursor_violations);
    out.setTruncated(s.truncated);
    out.setEventMask(s.event_mask);
    out.setLossless(s.lossless);
    out.setPayloadLimit(s.payload_limit);
    out.setGeneration(s.generation);
    out.setUnreadBytes(s.unread_bytes);
    out.setReaderIdleNs(s.reader_idle_ns);
    out.setReaderCount(s.reader_count);
    out.setLosslessDowngrades(s.lossless_downgrades);
    out.setReadersEvicted(s.readers_evicted);
    auto readers = out.initReaders(static_cast<unsigned>(s.readers.size()));
    for (size_t i = 0; i < s.readers.size(); ++i) {
        const ReaderInfo& r = s.readers[i];
        auto o = readers[static_cast<unsigned>(i)];
        o.setSlot(r.slot);
        o.setPid(r.pid);
        o.setUid(r.uid);
        o.setLossless(r.lossless);
        o.setDowngraded(r.downgraded);
        o.setEventMask(r.event_mask);
        o.setPayloadLimit(r.payload_limit);
        o.setWaitedNs(r.waited_ns);
        o.setUnreadBytes(r.unread_bytes);
        o.setIdleNs(r.idle_ns);
    }
    uint32_t count = 0;
    for (const EventInfo& e : EVENTS)
        count += e.subsystem == s.subsystem;
    auto events = out.initEvents(count);
    auto types = out.initEventTypes(count);
    uint32_t i = 0;
    for (const EventInfo& e : EVENTS) {
        if (e.subsystem != s.subsystem) continue;
        types.set(i, static_cast<uint16_t>(e.type));
        events.set(i++, std::string{e.name});
    }
}

class SessionImpl;

//! What decides when one connection is closed (see CloseWhenDue). Shared by the
//! connection, its Control object and the sessions handed out on it, any of which the RPC
//! system may destroy last; only used on the server thread.
struct ConnectionState final : public kj::Refcounted {
    ConnectionState(const kj::Timer& t, kj::Own<kj::PromiseFulfiller<void>> f)
        : timer{t}, first_call{kj::mv(f)}, last_activity{t.now()}
    {
    }
    const kj::Timer& timer;
    //! Fulfilled by the peer's first call (ControlImpl::dispatchCall), which ends the call
    //! deadline.
    kj::Own<kj::PromiseFulfiller<void>> first_call;
    //! When the peer last made a call or a session of this connection ended.
    kj::TimePoint last_activity;
    //! Sessions of this connection that still hold their rings (see LeaseMark).
    uint32_t sessions{0};
};

//! Counts one session as held on its connection until End() or destruction: a connection
//! holding a session is never closed for idleness.
class LeaseMark
{
public:
    explicit LeaseMark(kj::Own<ConnectionState> connection) : m_connection{kj::mv(connection)}
    {
        ++m_connection->sessions;
    }
    ~LeaseMark() { End(); }
    LeaseMark(const LeaseMark&) = delete;
    LeaseMark& operator=(const LeaseMark&) = delete;

    //! The session gave its rings back; the connection's idle time starts now.
    void End()
    {
        if (!m_held) return;
        m_held = false;
        --m_connection->sessions;
        m_connection->last_activity = m_connection->timer.now();
    }

private:
    kj::Own<ConnectionState> m_connection;
    bool m_held{true};
};

} // namespace

//! State shared by every connection; lives on the server thread only.
struct ControlServer::Loop {
    Producer& producer;
    int listen_fd;
    ControlLimits limits;
    std::string thread_name; //!< ProducerOptions::control_thread_name
    //! Set by the thread once its event loop runs; fulfilled by the destructor to stop.
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
    //! Set (once) when the loop runs, or when it failed to start; `running` and
    //! `start_error` are written before it and read by Start() after waiting on it.
    std::promise<void> started;
    bool running{false};
    std::string start_error;

    Loop(Producer& p, int fd, const ControlLimits& l, std::string name)
        : producer{p}, listen_fd{fd}, limits{l}, thread_name{std::move(name)}
    {
    }
    void Run();
};

namespace {

//! Shared memory handed to a consumer as a descriptor (see `Memory` in control.capnp).
class MemoryImpl final : public msg::Memory::Server
{
public:
    explicit MemoryImpl(kj::AutoCloseFd fd) : m_fd{kj::mv(fd)} {}
    kj::Maybe<int> getFd() override { return m_fd.get(); }

private:
    kj::AutoCloseFd m_fd;
};

//! The lease of one consumer: its readers live as long as this object.
class SessionImpl final : public msg::Session::Server
{
public:
    SessionImpl(std::unique_ptr<Lease> lease, kj::Own<ConnectionState> connection)
        : m_lease{std::move(lease)}, m_mark{kj::mv(connection)}
    {
    }

    kj::Promise<void> stats(StatsContext context) override
    {
        if (!m_lease) {
            context.getResults().initResult(0);
            return kj::READY_NOW;
        }
        const auto& grants = m_lease->grants();
        auto list = context.getResults().initResult(static_cast<unsigned>(grants.size()));
        for (size_t i = 0; i < grants.size(); ++i) {
            FillStatus(list[static_cast<unsigned>(i)], m_lease->Stats(grants[i].ring));
        }
        return kj::READY_NOW;
    }

    kj::Promise<void> detach(DetachContext) override
    {
        m_lease.reset(); // removes this session's readers; other readers go on
        m_mark.End();
        return kj::READY_NOW;
    }

private:
    std::unique_ptr<Lease> m_lease;
    LeaseMark m_mark;
};

class ControlImpl final : public msg::Control::Server
{
public:
    ControlImpl(ControlServer::Loop& loop, PeerCredentials peer,
                kj::Own<ConnectionState> connection)
        : m_loop{loop}, m_peer{peer}, m_connection{kj::mv(connection)}
    {
    }

    //! Every call lands here first: it counts as the connection's activity.
    capnp::Capability::Server::DispatchCallResult
    dispatchCall(uint64_t interface_id, uint16_t method_id,
                 capnp::CallContext<capnp::AnyPointer, capnp::AnyPointer> context) override
    {
        if (m_connection->first_call->isWaiting()) m_connection->first_call->fulfill();
        m_connection->last_activity = m_connection->timer.now();
        return msg::Control::Server::dispatchCall(interface_id, method_id, kj::mv(context));
    }

    kj::Promise<void> info(InfoContext context) override
    {
        auto out = context.getResults().initResult();
        out.setSegmentName(m_loop.producer.Name());
        out.setAbiVersion(ABI_VERSION);
        out.setSchemaHash(SCHEMA_HASH);
        out.setProducerPid(CurrentPid());
        out.setProducerStartTime(ProcessStartTime(CurrentPid()));
        return kj::READY_NOW;
    }

    kj::Promise<void> rings(RingsContext context) override
    {
        auto list = context.getResults().initResult(SUBSYSTEM_COUNT);
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
            FillStatus(list[i], m_loop.producer.Stats(static_cast<Subsystem>(i)));
        }
        return kj::READY_NOW;
    }

    kj::Promise<void> attach(AttachContext context) override
    {
        const auto request = context.getParams().getRequest();
        auto results = context.getResults();
        auto fail = [&](msg::ControlError::Code code, const std::string& message) {
            auto error = results.initError();
            error.setCode(code);
            error.setMessage(message);
            return kj::READY_NOW;
        };
        if (request.getAbiVersion() != ABI_VERSION) {
            return fail(msg::ControlError::Code::VERSION_MISMATCH,
                        "ABI mismatch: the producer has ABI version " +
                            std::to_string(ABI_VERSION) + ", the consumer " +
                            std::to_string(request.getAbiVersion()) +
                            "; use a consumer from the same tracering release as the producer");
        }
        // The schema hashes may differ: schemas only grow, the segment carries the producer's,
        // and events are asked for by name (an unknown one is refused below, by name).
        const uint64_t pid = m_peer.pid != 0 ? m_peer.pid : request.getReaderPid();
        std::vector<LeaseRequest> plans;
        const auto rings = request.getRings();
        if (rings.size() == 0) {
            return fail(msg::ControlError::Code::INVALID_ARGUMENT,
                        "attach asked for no rings; name at least one of: net, mempool, "
                        "utxocache, validation, coin_selection");
        }
        for (const auto ring : rings) {
            const std::string name = ring.getName();
            int index = -1;
            for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
                if (SUBSYSTEM_NAMES[i] == name) index = static_cast<int>(i);
            }
            if (index < 0) {
                return fail(msg::ControlError::Code::INVALID_ARGUMENT,
                            "unknown ring '" + name +
                                "'; the rings are: net, mempool, utxocache, validation, "
                                "coin_selection");
            }
            const auto subsystem = static_cast<Subsystem>(index);
            EnableOptions options;
            options.reader_pid = pid;
            options.reader_uid = m_peer.uid;
            options.lossless = ring.getLossless();
            options.payload_limit = ring.getPayloadLimit();
            const uint32_t wait_ms = ring.getLosslessWaitMs();
            static_assert(msg::MAX_LOSSLESS_WAIT_MS == MAX_LOSSLESS_WAIT_MS &&
                          msg::DEFAULT_LOSSLESS_WAIT_MS == DEFAULT_LOSSLESS_WAIT_MS);
            if (wait_ms > MAX_LOSSLESS_WAIT_MS) {
                return fail(msg::ControlError::Code::INVALID_ARGUMENT,
                            "lossless wait of " + std::to_string(wait_ms) + " ms for ring '" +
                                name + "' is over the " + std::to_string(MAX_LOSSLESS_WAIT_MS) +
                                " ms limit");
            }
            options.lossless_wait_ns = uint64_t{wait_ms} * 1'000'000;
            if (ring.getEvents().size() > 0) {
                options.event_mask = 0;
                for (const auto event : ring.getEvents()) {
                    const EventInfo* info = FindEvent(name, std::string_view{event.cStr()});
                    if (!info) {
                        std::string known;
                        for (const EventInfo& e : EVENTS) {
                            if (e.subsystem == subsystem) {
                                known += (known.empty() ? "" : ", ") + std::string{e.name};
                            }
                        }
                        return fail(msg::ControlError::Code::INVALID_ARGUMENT,
                                    "ring '" + name + "' of this producer has no event '" +
                                        event.cStr() +
                                        "' (its schemas may be older than the "
                                        "consumer's); its events are: " +
                                        known);
                    }
                    options.event_mask |= uint64_t{1} << (static_cast<uint16_t>(info->type) -
                                                          RingFirstType(subsystem));
                }
            }
            plans.push_back({subsystem, options});
        }
        // Everything checked: add the readers (all or none), then hand out the lease and the
        // memory its readers need.
        auto segment_fd = m_loop.producer.SegmentFd();
        if (!segment_fd)
            return fail(msg::ControlError::Code::INVALID_ARGUMENT, segment_fd.error().message());
        kj::AutoCloseFd segment{segment_fd.value()};
        auto lease = m_loop.producer.Attach(plans);
        if (!lease) {
            const ErrorCode code = lease.error().code();
            return fail(code == ErrorCode::Busy ? msg::ControlError::Code::BUSY
                        : code == ErrorCode::InvalidArgument
                            ? msg::ControlError::Code::INVALID_ARGUMENT
                            : msg::ControlError::Code::UNAVAILABLE,
                        lease.error().message());
        }
        const int cursors_fd = ::fcntl((*lease)->cursors_fd(), F_DUPFD_CLOEXEC, 0);
        if (cursors_fd < 0) {
            return fail(msg::ControlError::Code::INVALID_ARGUMENT,
                        std::string{"cannot hand over the lease's memory: "} +
                            std::strerror(errno));
        }
        const auto& grants = (*lease)->grants();
        auto attached = results.initRings(static_cast<unsigned>(grants.size()));
        for (size_t i = 0; i < grants.size(); ++i) {
            auto out = attached[static_cast<unsigned>(i)];
            const auto index = static_cast<uint16_t>(grants[i].ring);
            out.setName(std::string{SUBSYSTEM_NAMES[index]});
            out.setIndex(index);
            out.setGeneration(grants[i].generation);
            out.setSlot(grants[i].slot);
        }
        results.setSegment(kj::heap<MemoryImpl>(kj::mv(segment)));
        results.setCursors(kj::heap<MemoryImpl>(kj::AutoCloseFd{cursors_fd}));
        results.setSession(
            kj::heap<SessionImpl>(std::move(lease.value()), kj::addRef(*m_connection)));
        return kj::READY_NOW;
    }

private:
    ControlServer::Loop& m_loop;
    PeerCredentials m_peer;
    kj::Own<ConnectionState> m_connection;
};

//! One client connection and everything it owns; destroyed when the peer disconnects or the
//! server closes it.
struct Connection {
    //! A stream that can carry file descriptors (SCM_RIGHTS), so the server can hand them to
    //! a consumer through Capability::Server::getFd().
    kj::Own<kj::AsyncCapabilityStream> stream;
    capnp::TwoPartyVatNetwork network;
    capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;

    Connection(kj::Own<kj::AsyncCapabilityStream> s, capnp::Capability::Client bootstrap)
        : stream{kj::mv(s)},
          // Cap'n Proto 0.9 attaches descriptors to outgoing messages only when this is not
          // 0. Clients have no reason to send any; one per message at most is accepted, and
          // closed again, since no capability of ours takes it.
          network{*stream, /*maxFdsPerMessage=*/1, capnp::rpc::twoparty::Side::SERVER,
                  ReaderOptions()},
          rpc{capnp::makeRpcServer(network, kj::mv(bootstrap))}
    {
    }

    static capnp::ReaderOptions ReaderOptions()
    {
        capnp::ReaderOptions options;
        options.traversalLimitInWords = MAX_MESSAGE_WORDS;
        options.nestingLimit = 16;
        return options;
    }
};

class ErrorHandler final : public kj::TaskSet::ErrorHandler
{
public:
    // A connection that fails (garbage, a reset) only ends itself.
    void taskFailed(kj::Exception&&) override {}
};

//! Resolves when `state`'s connection, which has made a call, holds no session and has
//! made no call for the idle time. While it holds a session it is looked at again every
//! idle time.
kj::Promise<void> CloseWhenIdle(kj::Timer& timer, ConnectionState& state,
                                const ControlLimits& limits)
{
    const kj::TimePoint due = state.last_activity + limits.idle_ms * kj::MILLISECONDS;
    if (timer.now() < due) {
        return timer.atTime(due).then([&] { return CloseWhenIdle(timer, state, limits); });
    }
    if (state.sessions == 0) return kj::READY_NOW;
    return timer.afterDelay(limits.idle_ms * kj::MILLISECONDS).then([&] {
        return CloseWhenIdle(timer, state, limits);
    });
}

//! Resolves when a connection accepted now is to be closed: it made no call (`first_call`
//! is still pending) within the call deadline, or later CloseWhenIdle.
kj::Promise<void> CloseWhenDue(kj::Timer& timer, ConnectionState& state,
                               const ControlLimits& limits, kj::Promise<void> first_call)
{
    return first_call.then([] { return true; })
        .exclusiveJoin(
            timer.afterDelay(limits.call_deadline_ms * kj::MILLISECONDS).then([] { return false; }))
        .then([&](bool called) -> kj::Promise<void> {
            if (!called) return kj::READY_NOW;
            return CloseWhenIdle(timer, state, limits);
        });
}

//! The accepted stream as one that can carry file descriptors, on a descriptor of its own
//! (kj's listener hands out plain streams). Null if no descriptor is left for the copy.
kj::Maybe<kj::Own<kj::AsyncCapabilityStream>>
ToCapabilityStream(kj::LowLevelAsyncIoProvider& provider, kj::Own<kj::AsyncIoStream> stream)
{
    int fd = -1;
    KJ_IF_MAYBE (accepted, stream->getFd()) {
        fd = ::fcntl(*accepted, F_DUPFD_CLOEXEC, 0);
    }
    stream = nullptr; // closes the accepted descriptor; the copy is the connection now
    if (fd < 0) return nullptr;
    return provider.wrapUnixSocketFd(fd, kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                                             kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC);
}

} // namespace

void ControlServer::Loop::Run()
{
    pthread_setname_np(pthread_self(), thread_name.c_str());
    auto io = kj::setupAsyncIo();
    auto stop_pair = kj::newPromiseAndCrossThreadFulfiller<void>();
    stop = kj::mv(stop_pair.fulfiller);
    running = true;
    started.set_value();

    // Declared before the connections, whose ends count them down as they are destroyed; only
    // touched on this thread.
    size_t open_connections = 0;
    std::map<uint64_t, size_t> open_per_uid;
    size_t refused_open = 0;
    ErrorHandler errors;
    kj::TaskSet connections{errors};
    kj::Timer& timer = io.provider->getTimer();
    auto listener = io.lowLevelProvider->wrapListenSocketFd(
        listen_fd,
        kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP | kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC);

    bool accept_failing = false;
    kj::Maybe<kj::TimePoint> refusal_logged;
    // Past a limit the connection is still served, by a capability whose every call fails
    // with the reason, so the client can say why instead of "the producer may be gone".
    const auto refuse = [&](kj::Own<kj::AsyncIoStream> stream, std::string reason) {
        bool quiet = false;
        KJ_IF_MAYBE (last, refusal_logged) {
            quiet = timer.now() - *last < REFUSAL_LOG_INTERVAL_MS * kj::MILLISECONDS;
        }
        if (!quiet) {
            std::fprintf(stderr, "tracering: refusing control connections: %s\n", reason.c_str());
            refusal_logged = timer.now();
        }
        if (refused_open >= MAX_REFUSED) return; // dropping the stream closes it
        KJ_IF_MAYBE (capability_stream, ToCapabilityStream(*io.lowLevelProvider, kj::mv(stream))) {
            auto connection = kj::heap<Connection>(
                kj::mv(*capability_stream),
                capnp::Capability::Client{kj::Exception{kj::Exception::Type::OVERLOADED, __FILE__,
                                                        __LINE__, kj::str(reason.c_str())}});
            auto done = connection->network.onDisconnect().exclusiveJoin(
                timer.afterDelay(REFUSED_LINGER_MS * kj::MILLISECONDS));
            ++refused_open;
            connections.add(done.attach(kj::mv(connection), kj::defer([&] { --refused_open; })));
        }
    };
    const auto serve = [&](kj::Own<kj::AsyncIoStream> stream, const PeerCredentials& peer) {
        KJ_IF_MAYBE (capability_stream, ToCapabilityStream(*io.lowLevelProvider, kj::mv(stream))) {
            auto first_call = kj::newPromiseAndFulfiller<void>();
            auto state = kj::refcounted<ConnectionState>(timer, kj::mv(first_call.fulfiller));
            auto connection = kj::heap<Connection>(
                kj::mv(*capability_stream), kj::heap<ControlImpl>(*this, peer, kj::addRef(*state)));
            auto done = connection->network.onDisconnect().exclusiveJoin(
                CloseWhenDue(timer, *state, limits, kj::mv(first_call.promise)));
            ++open_connections;
            ++open_per_uid[peer.uid];
            connections.add(done.attach(kj::mv(connection), kj::mv(state), kj::defer([&, peer] {
                                            --open_connections;
                                            if (--open_per_uid[peer.uid] == 0)
                                                open_per_uid.erase(peer.uid);
                                        })));
        }
    };
    std::function<kj::Promise<void>()> accept_loop = [&]() -> kj::Promise<void> {
        // evalNow: accept() may also throw before it returns a promise.
        return kj::evalNow([&] { return listener->accept(); })
            .then(
                [&](kj::Own<kj::AsyncIoStream> stream) {
                    accept_failing = false;
                    // Who may connect is decided by the socket file's mode (and group), which the
                    // kernel enforces; the peer's pid is the reader's identity for other
                    // consumers, its uid what the per-user limit counts.
                    PeerCredentials peer;
                    bool known = false;
                    KJ_IF_MAYBE (fd, stream->getFd()) {
                        known = GetPeerCredentials(*fd, peer);
                    }
                    if (!known) peer.uid = UNKNOWN_UID;
                    const auto same_uid = open_per_uid.find(peer.uid);
                    const size_t from_uid = same_uid == open_per_uid.end() ? 0 : same_uid->second;
                    if (from_uid >= limits.max_per_uid) {
                        refuse(kj::mv(stream),
                               "too many control connections from " +
                                   (known ? "uid " + std::to_string(peer.uid)
                                          : std::string{"peers of unknown uid"}) +
                                   " (" + std::to_string(from_uid) +
                                   " open, the most one user may have); close some of them");
                    } else if (open_connections >= MAX_CONTROL_CONNECTIONS) {
                        refuse(kj::mv(stream), "too many control connections (" +
                                                   std::to_string(open_connections) +
                                                   " open, the most for all users together); "
                                                   "try again later");
                    } else {
                        serve(kj::mv(stream), peer);
                    }
                    return accept_loop();
                },
                [&](kj::Exception&& e) -> kj::Promise<void> {
                    // Out of descriptors or memory for a moment (Linux fails accept with EMFILE
                    // even with nobody waiting): keep serving and try again shortly, saying so
                    // once.
                    if (!accept_failing) {
                        std::fprintf(stderr,
                                     "tracering: control server cannot accept (%s); retrying\n",
                                     e.getDescription().cStr());
                        accept_failing = true;
                    }
                    return io.provider->getTimer().afterDelay(100 * kj::MILLISECONDS).then([&] {
                        return accept_loop();
                    });
                });
    };
    auto serving = accept_loop();
    stop_pair.promise.exclusiveJoin(kj::mv(serving)).wait(io.waitScope);
    // Leaving the scope destroys the connections, so every session releases its rings.
}

Result<std::unique_ptr<ControlServer>>
ControlServer::Start(Producer& producer, const std::string& path, uint32_t mode, int64_t group,
                     const ControlLimits& limits, const std::string& thread_name)
{
    // Linux keeps 15 bytes of a thread's name and refuses longer ones.
    if (thread_name.empty() || thread_name.size() > 15) {
        return Error{ErrorCode::InvalidArgument,
                     "control_thread_name '" + thread_name + "' must be 1 to 15 bytes long"};
    }
    if (limits.call_deadline_ms == 0 || limits.idle_ms == 0) {
        return Error{ErrorCode::InvalidArgument,
                     "control_call_deadline_ms and control_idle_ms must be at least 1 ms (they "
                     "are " +
                         std::to_string(limits.call_deadline_ms) + " and " +
                         std::to_string(limits.idle_ms) + ")"};
    }
    if (limits.max_per_uid == 0 || limits.max_per_uid > MAX_CONTROL_CONNECTIONS) {
        return Error{ErrorCode::InvalidArgument,
                     "control_max_per_uid is " + std::to_string(limits.max_per_uid) +
                         "; it must be 1 to " + std::to_string(MAX_CONTROL_CONNECTIONS)};
    }
    auto fd = ListenUnix(path, mode, group);
    if (!fd) return fd.error();
    std::unique_ptr<ControlServer> server{new ControlServer};
    server->m_path = path;
    server->m_loop = std::make_unique<Loop>(producer, fd.value(), limits, thread_name);
    auto started = server->m_loop->started.get_future();
    Loop* loop = server->m_loop.get();
    server->m_thread = std::thread{[loop] {
        std::string failure;
        try {
            loop->Run();
            return;
        } catch (const kj::Exception& e) {
            failure = e.getDescription().cStr();
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!loop->running) {
            // Start() is waiting: it reports this to the embedder.
            loop->start_error = failure.empty() ? "unknown error" : failure;
            loop->started.set_value();
        } else {
            std::fprintf(stderr, "tracering: control server stopped: %s\n", failure.c_str());
        }
    }};
    started.wait();
    if (!loop->running) {
        server->m_thread.join();
        ::close(loop->listen_fd); // the loop never took it over
        return Error{ErrorCode::SystemError,
                     "cannot start the control server on " + path + ": " + loop->start_error};
    }
    return server;
}

ControlServer::~ControlServer()
{
    if (m_loop && m_loop->stop) m_loop->stop->fulfill();
    if (m_thread.joinable()) m_thread.join();
    ::unlink(m_path.c_str());
}

} // namespace tracering::detail
