// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/control.h>
#include <tracering/control/control.capnp.h>
#include <tracering/schema_hash.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>

#include "common/process.h"
#include "common/unix_socket.h"

namespace tracering {
namespace {

namespace msg = ::tracering::control::messages;

//! The most file descriptors the producer may attach to one control message; the kernel
//! drops any more, so a producer cannot fill the consumer's descriptor table.
constexpr unsigned MAX_FDS_PER_MESSAGE = 8;

//! One kj event loop per thread, shared by every client of that thread.
struct ThreadIo {
    kj::AsyncIoContext io{kj::setupAsyncIo()};
};

std::shared_ptr<ThreadIo> CurrentThreadIo()
{
    thread_local std::weak_ptr<ThreadIo> current;
    auto io = current.lock();
    if (!io) {
        io = std::make_shared<ThreadIo>();
        current = io;
    }
    return io;
}

RingInfo ToRingInfo(msg::RingStatus::Reader s)
{
    RingInfo r;
    r.index = s.getIndex();
    r.name = s.getName();
    r.subsystem = static_cast<Subsystem>(s.getIndex());
    r.stability = s.getStability() == msg::Stability::SEMI_STABLE    ? Stability::SemiStable
                  : s.getStability() == msg::Stability::EXPERIMENTAL ? Stability::Experimental
                                                                     : Stability::Unknown;
    r.capacity = s.getCapacity();
    r.max_record = s.getCapacity() / MAX_RECORD_DIVISOR;
    r.enabled = s.getEnabled();
    r.lossless = s.getLossless();
    r.event_mask = s.getEventMask();
    r.payload_limit = s.getPayloadLimit();
    r.reader_pid = s.getReaderPid();
    r.generation = s.getGeneration();
    r.write_pos = s.getWritePos();
    r.seq = s.getSeq();
    r.dropped_full = s.getDroppedFull();
    r.dropped_too_big = s.getDroppedTooBig();
    r.dropped_reader_reset = s.getDroppedReaderReset();
    r.dropped_timeout = s.getDroppedTimeout();
    r.cursor_violations = s.getCursorViolations();
    r.truncated = s.getTruncated();
    r.unread_bytes = s.getUnreadBytes();
    r.reader_idle_ns = s.getReaderIdleNs();
    r.reader_count = s.getReaderCount();
    r.lossless_downgrades = s.getLosslessDowngrades();
    r.readers_evicted = s.getReadersEvicted();
    const auto names = s.getEvents();
    const auto types = s.getEventTypes();
    for (uint32_t i = 0; i < names.size(); ++i) {
        // A producer older than eventTypes sends names only: 0 says "type unknown".
        r.events.push_back({i < types.size() ? types[i] : uint16_t{0}, names[i]});
    }
    for (auto o : s.getReaders()) {
        ReaderInfo reader;
        reader.slot = o.getSlot();
        reader.pid = o.getPid();
        reader.uid = o.getUid();
        reader.lossless = o.getLossless();
        reader.downgraded = o.getDowngraded();
        reader.event_mask = o.getEventMask();
        reader.payload_limit = o.getPayloadLimit();
        reader.waited_ns = o.getWaitedNs();
        reader.unread_bytes = o.getUnreadBytes();
        reader.idle_ns = o.getIdleNs();
        r.readers.push_back(reader);
    }
    return r;
}

} // namespace

struct ControlClient::Impl {
    std::shared_ptr<ThreadIo> thread_io;
    std::string path;
    std::chrono::milliseconds timeout;
    //! Can carry file descriptors (SCM_RIGHTS) from the producer: Capability::Client::getFd().
    kj::Own<kj::AsyncCapabilityStream> stream;
    kj::Own<capnp::TwoPartyVatNetwork> network;
    kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
    kj::Own<msg::Control::Client> control;
    ProducerDescription producer;

    kj::WaitScope& wait_scope() { return thread_io->io.waitScope; }

    //! Waits for `promise` at most `timeout`; a timeout or a kj failure becomes an Error.
    template <typename T>
    Result<T> Wait(kj::Promise<T>&& promise, const char* what)
    {
        try {
            auto timed = promise.then([](T&& v) { return kj::Maybe<T>{kj::mv(v)}; })
                             .exclusiveJoin(thread_io->io.provider->getTimer()
                                                .afterDelay(timeout.count() * kj::MILLISECONDS)
                                                .then([]() { return kj::Maybe<T>{nullptr}; }));
            kj::Maybe<T> result = timed.wait(wait_scope());
            KJ_IF_MAYBE (value, result) {
                return kj::mv(*value);
            }
            return Error{ErrorCode::Corrupt, std::string{what} + ": no answer from " + path +
                                                 " within " + std::to_string(timeout.count()) +
                                                 " ms; is it a tracering control socket?"};
        } catch (const kj::Exception& e) {
            if (e.getType() == kj::Exception::Type::OVERLOADED) {
                // The producer refused this connection (too many from this user, or from all)
                // and says why.
                std::string reason = e.getDescription().cStr();
                constexpr std::string_view REMOTE = "remote exception: ";
                if (reason.rfind(REMOTE, 0) == 0) reason.erase(0, REMOTE.size());
                return Error{ErrorCode::Busy, path + " refused the connection: " + reason};
            }
            if (e.getType() == kj::Exception::Type::DISCONNECTED) {
                return Error{ErrorCode::Detached, std::string{what} + ": " + path +
                                                      " closed the connection (producer gone, "
                                                      "or not a tracering control socket)"};
            }
            return Error{ErrorCode::Corrupt, std::string{what} + " failed on " + path + ": " +
                                                 e.getDescription().cStr()};
        }
    }
};

struct Session::Lease {
    std::shared_ptr<ControlClient::Impl> client;
    msg::Session::Client session;
    bool released{false};

    Result<void> Release()
    {
        if (released) return {};
        released = true;
        auto done =
            client->Wait(session.detachRequest().send().then(
                             [](capnp::Response<msg::Session::DetachResults>&&) { return true; }),
                         "detach");
        if (!done) return done.error();
        return {};
    }
};

ControlClient::~ControlClient() = default;

const ProducerDescription& ControlClient::producer() const noexcept { return m_impl->producer; }
const std::string& ControlClient::socket_path() const noexcept { return m_impl->path; }

Result<std::unique_ptr<ControlClient>> ControlClient::Connect(const std::string& socket_path,
                                                              std::chrono::milliseconds timeout)
{
    auto fd = detail::ConnectUnix(socket_path);
    if (!fd) return fd.error();
    detail::PeerCredentials peer;
    const bool have_peer = detail::GetPeerCredentials(fd.value(), peer);

    auto impl = std::make_shared<Impl>();
    impl->path = socket_path;
    impl->timeout = timeout;
    try {
        impl->thread_io = CurrentThreadIo();
        impl->stream = impl->thread_io->io.lowLevelProvider->wrapUnixSocketFd(
            fd.value(), kj::LowLevelAsyncIoProvider::TAKE_OWNERSHIP |
                            kj::LowLevelAsyncIoProvider::ALREADY_CLOEXEC);
        impl->network = kj::heap<capnp::TwoPartyVatNetwork>(*impl->stream, MAX_FDS_PER_MESSAGE,
                                                            capnp::rpc::twoparty::Side::CLIENT);
        impl->rpc = kj::heap(capnp::makeRpcClient(*impl->network));
        capnp::word scratch[4];
        memset(&scratch, 0, sizeof(scratch));
        capnp::MallocMessageBuilder message(scratch);
        auto vat_id = message.getRoot<capnp::rpc::twoparty::VatId>();
        vat_id.setSide(capnp::rpc::twoparty::Side::SERVER);
        impl->control =
            kj::heap<msg::Control::Client>(impl->rpc->bootstrap(vat_id).castAs<msg::Control>());
    } catch (const kj::Exception& e) {
        return Error{ErrorCode::SystemError, "cannot set up a connection to " + socket_path + ": " +
                                                 e.getDescription().cStr()};
    }

    auto info = impl->Wait(impl->control->infoRequest().send(), "info");
    if (!info) return info.error();
    const auto result = info.value().getResult();
    ProducerDescription& d = impl->producer;
    d.segment_name = result.getSegmentName();
    d.abi_version = result.getAbiVersion();
    d.schema_hash = result.getSchemaHash();
    d.producer_pid = result.getProducerPid();
    d.producer_start_time = result.getProducerStartTime();
    if (have_peer && peer.pid != 0 && peer.pid != d.producer_pid) {
        return Error{ErrorCode::Corrupt,
                     socket_path + " is served by pid " + std::to_string(peer.pid) +
                         ", but it claims to be producer " + std::to_string(d.producer_pid)};
    }
    std::unique_ptr<ControlClient> client{new ControlClient};
    client->m_impl = std::move(impl);
    return client;
}

Result<std::vector<RingInfo>> ControlClient::Rings()
{
    auto response = m_impl->Wait(m_impl->control->ringsRequest().send(), "rings");
    if (!response) return response.error();
    std::vector<RingInfo> out;
    for (auto s : response.value().getResult())
        out.push_back(ToRingInfo(s));
    return out;
}

Result<std::unique_ptr<Session>> ControlClient::Attach(const std::vector<RingRequest>& rings)
{
    const ProducerDescription& d = m_impl->producer;
    // Refuse here first, naming both sides; the producer checks again.
    if (d.abi_version != ABI_VERSION) {
        return Error{ErrorCode::VersionMismatch,
                     "ABI mismatch: producer " + std::to_string(d.producer_pid) +
                         " has ABI version " + std::to_string(d.abi_version) +
                         ", this consumer supports " + std::to_string(ABI_VERSION)};
    }
    auto request = m_impl->control->attachRequest();
    auto r = request.initRequest();
    r.setAbiVersion(ABI_VERSION);
    r.setSchemaHash(SCHEMA_HASH);
    r.setReaderPid(detail::CurrentPid());
    auto list = r.initRings(static_cast<unsigned>(rings.size()));
    for (size_t i = 0; i < rings.size(); ++i) {
        auto out = list[static_cast<unsigned>(i)];
        out.setName(rings[i].ring);
        auto events = out.initEvents(static_cast<unsigned>(rings[i].events.size()));
        for (size_t e = 0; e < rings[i].events.size(); ++e) {
            events.set(static_cast<unsigned>(e), rings[i].events[e]);
        }
        out.setLossless(rings[i].lossless);
        out.setLosslessWaitMs(rings[i].lossless_wait_ms);
        out.setPayloadLimit(rings[i].payload_limit);
    }
    auto response = m_impl->Wait(request.send(), "attach");
    if (!response) return response.error();
    auto& results = response.value();
    if (results.hasError() && results.getError().getCode() != msg::ControlError::Code::NONE) {
        const auto error = results.getError();
        ErrorCode code = ErrorCode::InvalidArgument;
        switch (error.getCode()) {
        case msg::ControlError::Code::VERSION_MISMATCH:
            code = ErrorCode::VersionMismatch;
            break;
        case msg::ControlError::Code::BUSY:
            code = ErrorCode::Busy;
            break;
        case msg::ControlError::Code::UNAVAILABLE:
            code = ErrorCode::SystemError;
            break;
        default:
            break;
        }
        return Error{code, error.getMessage()};
    }

    std::unique_ptr<Session> session{new Session};
    session->m_lease.reset(new Session::Lease{m_impl, results.getSession(), false});
    // The segment and the lease's cursor memory arrive as descriptors with the answer; they
    // belong to the capabilities, so they are mapped (duplicated) while those live.
    auto segment_cap = results.getSegment();
    auto cursors_cap = results.getCursors();
    auto segment_fd = m_impl->Wait(segment_cap.getFd(), "attach (segment)");
    if (!segment_fd) return segment_fd.error();
    auto cursors_fd = m_impl->Wait(cursors_cap.getFd(), "attach (cursor memory)");
    if (!cursors_fd) return cursors_fd.error();
    int segment_raw = -1;
    int cursors_raw = -1;
    KJ_IF_MAYBE (fd, segment_fd.value()) {
        segment_raw = *fd;
    }
    KJ_IF_MAYBE (fd, cursors_fd.value()) {
        cursors_raw = *fd;
    }
    if (segment_raw < 0 || cursors_raw < 0) {
        return Error{ErrorCode::Corrupt,
                     "attach: " + m_impl->path +
                         " did not pass the segment and the lease's memory as descriptors"};
    }
    auto consumer = Consumer::OpenFd(segment_raw, "segment '" + d.segment_name + "'");
    if (!consumer) return consumer.error(); // ~Session gives the rings back
    session->m_consumer = std::move(consumer.value());
    for (const auto attached : results.getRings()) {
        ReaderGrant grant;
        grant.ring = static_cast<Subsystem>(attached.getIndex());
        grant.slot = attached.getSlot();
        grant.generation = attached.getGeneration();
        grant.cursors_fd = cursors_raw;
        auto reader =
            session->m_consumer->OpenReader(std::string_view{attached.getName().cStr()}, grant);
        if (!reader) return reader.error();
        session->m_readers.push_back(std::move(reader.value()));
    }
    return session;
}

Session::~Session()
{
    m_readers.clear();
    if (m_lease) (void)m_lease->Release();
}

RingReader* Session::reader(std::string_view ring) noexcept
{
    for (auto& r : m_readers) {
        if (r->name() == ring) return r.get();
    }
    return nullptr;
}

Result<std::vector<RingInfo>> Session::Stats()
{
    auto response = m_lease->client->Wait(m_lease->session.statsRequest().send(), "stats");
    if (!response) return response.error();
    std::vector<RingInfo> out;
    for (auto s : response.value().getResult())
        out.push_back(ToRingInfo(s));
    return out;
}

Result<void> Session::Detach()
{
    for (auto& r : m_readers)
        r->Abandon();
    return m_lease->Release();
}

} // namespace tracering
