// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "message_capture.h"

#include <tracering/schemas.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace tracering::ringdump {
namespace {

//! Bitcoin Core's CMessageHeader::MESSAGE_TYPE_SIZE.
constexpr size_t MESSAGE_TYPE_SIZE = 12;
//! Files kept open between records. A busy node talks to ~125 peers, each with two files;
//! past this many all are closed (appending reopens them), which bounds descriptors.
constexpr size_t MAX_OPEN_FILES = 64;

void PutLe(std::string& out, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i) {
        out += char(uint8_t(v >> (8 * i)));
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

MessageCapture::MessageCapture(std::filesystem::path dir, int64_t clock_offset_ns)
    : m_dir{std::move(dir)}, m_clock_offset_ns{clock_offset_ns}
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

Result<std::FILE*> MessageCapture::File(const std::string& peer, bool inbound)
{
    const std::filesystem::path path = m_dir / peer / (inbound ? "msgs_recv.dat" : "msgs_sent.dat");
    if (const auto it = m_files.find(path); it != m_files.end()) return it->second;
    if (m_files.size() >= MAX_OPEN_FILES) {
        if (auto ok = Close(); !ok) return ok.error();
    }
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
        return Error{ErrorCode::SystemError,
                     "cannot create " + path.parent_path().string() + ": " + ec.message()};
    }
    // Append, as the node does: records of an earlier capture of the same peer stay.
    std::FILE* file = std::fopen(path.c_str(), "ab");
    if (!file) {
        return Error{ErrorCode::SystemError,
                     "cannot open " + path.string() + ": " + std::strerror(errno)};
    }
    m_files.emplace(path, file);
    m_peers.insert(peer);
    return file;
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
    m_buffer.clear();
    PutLe(m_buffer, unix_us, 8);
    m_buffer.append(type->c_str(), type->size());
    m_buffer.append(MESSAGE_TYPE_SIZE - type->size(), '\0');
    PutLe(m_buffer, payload_size, 4);
    auto file = File(PeerDirectory(addr->string_view()), inbound);
    if (!file) return file.error();
    if (std::fwrite(m_buffer.data(), 1, m_buffer.size(), *file) != m_buffer.size() ||
        (payload_size != 0 &&
         std::fwrite(payload->data(), 1, payload_size, *file) != payload_size)) {
        return Error{ErrorCode::SystemError, "cannot write a message capture file under " +
                                                 m_dir.string() + ": " + std::strerror(errno)};
    }
    ++(inbound ? m_counts.received : m_counts.sent);
    return {};
}

Result<void> MessageCapture::Close()
{
    std::string failed;
    for (auto& [path, file] : m_files) {
        if (std::fclose(file) != 0 && failed.empty()) {
            failed = path.string() + ": " + std::strerror(errno);
        }
    }
    m_files.clear();
    if (!failed.empty()) return Error{ErrorCode::SystemError, "cannot write " + failed};
    return {};
}

} // namespace tracering::ringdump
