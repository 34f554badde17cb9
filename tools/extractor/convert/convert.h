// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_EXTRACTOR_CONVERT_CONVERT_H
#define TRACERING_EXTRACTOR_CONVERT_CONVERT_H

//! @file
//! One tracering event as peer-observer's protobuf `event.Event` (tools/extractor/proto/):
//! the envelope its ebpf-extractor publishes, with the leaf message of the event's ring and
//! the NATS subject its tools subscribe to. P2P payloads are decoded with tools/p2p into the
//! structured message variants; one that does not decode goes out as `Unknown{command,
//! payload}` and is counted (Converted::undecodable), never dropped.

#include <tracering/consumer.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tracering::extractor {

//! The NATS subjects of peer-observer's tools, one per kind of event.
enum class Subject : uint8_t { NetMsg, NetConn, Mempool, Validation };
constexpr int SUBJECT_COUNT = 4;
//! "netmsg", "netconn", "mempool", "validation".
const char* SubjectName(Subject subject);

struct Converted {
    Subject subject;
    std::string bytes;       //!< a serialized event.Event, every required field set
    bool undecodable{false}; //!< a P2P payload sent as Unknown because it did not decode
    //! When `undecodable`: why, e.g. "malformed tx: 1 bytes after the last field, at byte
    //! 554", or that the reader's payload limit cut the payload.
    std::string error;
};

//! Converts `event` (of the net, mempool or validation ring, by EventView::type()),
//! timestamped `unix_ms` (milliseconds since the UNIX epoch: the envelope's timestamp).
//! nullopt for an event peer-observer has no message for, or one whose table does not
//! verify (the caller counts it as skipped).
//!
//! A message payload decodes only when whole: read the net ring without a payload limit
//! (RingRequest::payload_limit 0), or cut messages go out as Unknown, undecodable.
//! Thread-safe: it keeps no state between calls.
std::optional<Converted> Convert(const EventView& event, uint64_t unix_ms);

} // namespace tracering::extractor

#endif // TRACERING_EXTRACTOR_CONVERT_CONVERT_H
