// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "message_capture.h"

#include <tracering/schemas.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <unistd.h>

#include "capture_file.h"
#include <sys/stat.h>
#include <sys/uio.h>

namespace tracering::ringdump {
namespace {

//! Bitcoin Core's CMessageHeader::MESSAGE_TYPE_SIZE.
constexpr size_t MESSAGE_TYPE_SIZE = 12;
//! Files kept open between records. A busy node talks to ~125 peers, each with two files;
//! past this many all are closed (appending reopens them), which bounds descriptors.
constexpr size_t MAX_OPEN_FILES = 64;
//! Records of a file gathered before they are written (at most MAX_OPEN_FILES of these).
constexpr size_t FILE_BUFFER = 64 << 10;
//! Bytes of a record before its payload: time, message type, payload length.
constexpr size_t RECORD_HEADER_SIZE = 8 + MESSAGE_TYPE_SIZE + 4;

void PutLe(uint8_t* out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i) {
        out[i] = uint8_t(v >> (8 * i));
    }
}

template <typename T>
const T* Message(const Record& record)
{
    flatbuffers::Verifier verifier{record.payload.data(), record.payload.size()};
    if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
    return flatbuffers::GetRoot<T>(record.payload.data());
}

} // namespace

MessageCapture::MessageCapture(int dir_fd, std::filesystem::path dir, int64_t clock_offset_ns)
    : m_dir_fd{dir_fd}, m_dir{std::move(dir)}, m_clock_offset_ns{clock_offset_ns}
{
}

MessageCapture::~MessageCapture() { (void)Close(); }

std::string MessageCapture::PeerDirectory(std::string_view addr)
{
    std::string out{addr};
    for (char& c : out) {
        if (c == ':' || c == '/' || c == '\\' || c == '\0') c = '_';
    }
    if (out.empty() || out == "." || out == "..") out = "_" + out;
    return out;
}

Result<MessageCapture::OpenFile*> MessageCapture::File(const std::string& peer, bool inbound)
{
    const std::string name = inbound ? "msgs_recv.dat" : "msgs_sent.dat";
    const std::filesystem::path path = m_dir / peer / name;
    const auto known = m_files.find(path);
    if (known != m_files.end() && known->second.fd >= 0) return &known->second;
    if (m_open >= MAX_OPEN_FILES) {
        if (auto ok = Close(); !ok) return ok.error();
    }
    const auto identity = [](int fd, const std::filesystem::path& what) -> Result<Identity> {
        struct stat st;
        if (::fstat(fd, &st) != 0) {
            return Error{ErrorCode::SystemError,
                         "cannot open " + what.string() + ": " + std::strerror(errno)};
        }
        return Identity{st.st_dev, st.st_ino};
    };
    const auto replaced = [](const std::filesystem::path& what) {
        return Error{ErrorCode::SystemError,
                     what.string() + " was replaced since this capture created it; it is not "
                                     "written to again"};
    };
    // The peer's folder: one this capture creates now, or created before and finds unchanged.
    Fd folder;
    if (const auto it = m_peers.find(peer); it == m_peers.end()) {
        auto made = CreateDirectoryAt(m_dir_fd, peer, m_dir / peer);
        if (!made) return made.error();
        auto id = identity(made->get(), m_dir / peer);
        if (!id) return id.error();
        folder = std::move(made.value());
        m_peers.emplace(peer, id.value());
    } else {
        folder =
            Fd{::openat(m_dir_fd, peer.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
        if (folder.get() < 0) return replaced(m_dir / peer);
        auto id = identity(folder.get(), m_dir / peer);
        if (!id) return id.error();
        if (!(id.value() == it->second)) return replaced(m_dir / peer);
    }
    if (known == m_files.end()) {
        // New, never through a link: nothing at this path was there before the capture.
        auto created = CreateFileAt(folder.get(), name, path);
        if (!created) return created.error();
        auto id = identity(created->get(), path);
        if (!id) return id.error();
        ++m_open;
        return &m_files.emplace(path, OpenFile{created->Release(), 0, id.value()}).first->second;
    }
    // Reopened after too many were open: the same file, appended to where it ended.
    Fd fd{::openat(folder.get(), name.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)};
    if (fd.get() < 0) return replaced(path);
    auto id = identity(fd.get(), path);
    if (!id) return id.error();
    if (!(id.value() == known->second.id)) return replaced(path);
    known->second.fd = fd.Release();
    ++m_open;
    return &known->second;
}

Result<void> MessageCapture::Add(const Record& record)
{
    const bool inbound = record.type == static_cast<uint16_t>(EventType::NetInboundMessage);
    if (!inbound && record.type != static_cast<uint16_t>(EventType::NetOutboundMessage)) return {};
    const flatbuffers::String* addr = nullptr;
    const flatbuffers::String* type = nullptr;
    const flatbuffers::Vector<uint8_t>* payload = nullptr;
    uint64_t size = 0;
    if (inbound) {
        if (const auto* m = Message<net::InboundMessage>(record)) {
            addr = m->addr();
            type = m->msg_type();
            payload = m->payload();
            size = m->size();
        }
    } else if (const auto* m = Message<net::OutboundMessage>(record)) {
        addr = m->addr();
        type = m->msg_type();
        payload = m->payload();
        size = m->size();
    }
    if (!addr || !type) {
        ++m_counts.unwritable;
        return {};
    }
    const size_t payload_size = payload ? payload->size() : 0;
    // The format has no way to mark a partial payload: such a record is left out, counted.
    if (record.truncated() || size != payload_size) {
        ++m_counts.truncated;
        return {};
    }
    if (type->size() > MESSAGE_TYPE_SIZE || payload_size > std::numeric_limits<uint32_t>::max()) {
        ++m_counts.unwritable;
        return {};
    }
    const int64_t unix_ns = int64_t(record.timestamp_ns) + m_clock_offset_ns;
    const uint64_t unix_us = unix_ns > 0 ? uint64_t(unix_ns) / 1000 : 0;
    uint8_t header[RECORD_HEADER_SIZE] = {};
    PutLe(header, unix_us, 8);
    std::memcpy(header + 8, type->c_str(), type->size());
    PutLe(header + 8 + MESSAGE_TYPE_SIZE, payload_size, 4);

    auto peer = m_by_addr.find(addr->string_view());
    if (peer == m_by_addr.end()) {
        peer = m_by_addr.emplace(addr->str(), Peer{PeerDirectory(addr->string_view())}).first;
    }
    OpenFile*& cached = inbound ? peer->second.recv : peer->second.sent;
    if (!cached || cached->fd < 0) {
        // First record of this file, or it was closed (too many open): File() creates or
        // reopens it, checking that it is still the one this capture created.
        auto file = File(peer->second.folder, inbound);
        if (!file) return file.error();
        cached = file.value();
    }
    OpenFile& f = *cached;
    const std::span<const uint8_t> bytes{payload ? payload->data() : nullptr, payload_size};
    if (f.pending.size() + RECORD_HEADER_SIZE + payload_size > FILE_BUFFER) {
        if (auto ok = WriteOut(f, {}); !ok) return ok;
    }
    f.pending.insert(f.pending.end(), header, header + RECORD_HEADER_SIZE);
    if (payload_size >= FILE_BUFFER) {
        // A large payload (a block) goes to the file from where it is, with its header.
        if (auto ok = WriteOut(f, bytes); !ok) return ok;
    } else {
        f.pending.insert(f.pending.end(), bytes.begin(), bytes.end());
    }
    ++(inbound ? m_counts.received : m_counts.sent);
    return {};
}

Result<void> MessageCapture::WriteOut(OpenFile& f, std::span<const uint8_t> payload)
{
    // Everything in one writev where the kernel takes it (the records gathered, then the
    // payload), retried where it takes part of it; on failure the file is cut back to where
    // these records began, so it still ends at a whole record.
    const uint64_t total = uint64_t{f.pending.size()} + payload.size();
    if (const int err = WriteWhole(f.fd, f.pending, payload); err != 0) {
        // Back to where the records began, the file offset too, so a later write
        // continues the file rather than leaving a hole.
        (void)!::ftruncate(f.fd, off_t(f.size));
        (void)!::lseek(f.fd, off_t(f.size), SEEK_SET);
        f.pending.clear();
        return Error{ErrorCode::SystemError, "cannot write a message capture file under " +
                                                 m_dir.string() + ": " + std::strerror(err)};
    }
    f.size += total;
    f.pending.clear();
    return {};
}

Result<void> MessageCapture::Flush()
{
    for (auto& [path, file] : m_files) {
        if (file.fd < 0 || file.pending.empty()) continue;
        if (auto ok = WriteOut(file, {}); !ok) return ok;
    }
    return {};
}

Result<void> MessageCapture::Close()
{
    std::string failed; // the first error, as a whole message
    for (auto& [path, file] : m_files) {
        if (file.fd < 0) continue;
        if (!file.pending.empty()) {
            if (auto ok = WriteOut(file, {}); !ok && failed.empty()) failed = ok.error().message();
        }
        if (::close(file.fd) != 0 && failed.empty()) {
            failed = "cannot write " + path.string() + ": " + std::strerror(errno);
        }
        file.fd = -1;
    }
    m_open = 0;
    if (!failed.empty()) return Error{ErrorCode::SystemError, failed};
    return {};
}

} // namespace tracering::ringdump
