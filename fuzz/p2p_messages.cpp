// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: the P2P message parsers of tools/p2p and tracering-extractor's conversion
// (tools/extractor/convert), which read payloads a peer of the node chose. The input
// (fuzz/inputs.h, P2pMessageInput) is a command and a payload.
//
// Every parser of tools/p2p (messages.h, protocol.h, block.h) reads the payload, whatever
// the command; parsers that check the same message must agree (ParseInventory and
// ParseInventoryCount, ParseHeaders and ParseHeadersCount, ParseTx and ParseTransaction,
// ParseFullBlock and ParseBlock, ParseNonceExact and ParseNonce), and AddressText() formats
// every address they return. Then a real producer emits the message with the node's
// net:inbound_message tracepoint (bitcoin::net::inbound_message), a reader reads it back
// from the net ring, and Convert() turns it into peer-observer's event.Event. What must hold:
//
// - the event parses back with the generated protobuf classes and IsInitialized() (every
//   required field set: peer-observer's tools refuse an event without one);
// - every string in it is UTF-8 (peer-observer's Rust decoder refuses one that is not);
// - the metadata names the command and the payload's size;
// - a payload goes out as Unknown, undecodable, with the payload as it is, exactly when the
//   command's parser refuses it or holds what peer-observer's schema cannot (ConvertRefuses:
//   text that is not UTF-8, a reject code outside BIP61, filterload flags outside BIP37); a
//   command without a decoder goes out as
//   Unknown and is not undecodable.

#include <tracering/bitcoin/net.h>
#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <unistd.h>

#include "extractor/convert/convert.h"
#include "inputs.h"
#include "p2p/address.h"
#include "p2p/block.h"
#include "p2p/messages.h"
#include "p2p/protocol.h"
#include "util.h"
#include <ebpf_extractor.pb.h>
#include <ebpf_extractor/message.pb.h>
#include <event.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

namespace tracering::fuzz {
namespace {

namespace pb_msg = ::ebpf_extractor::message;
using Payload = std::span<const uint8_t>;

//! The net ring's capacity: a record may take an eighth of it, so P2P_MAX_PAYLOAD fits with
//! its table around it.
constexpr uint64_t NET_CAPACITY = 8 << 20;
static_assert(NET_CAPACITY / 8 >= P2P_MAX_PAYLOAD + 4096);
constexpr int64_t PEER = 7;
constexpr const char* PEER_ADDR = "203.0.113.7:8333";
constexpr uint64_t UNIX_MS = 1'700'000'000'000;

struct Fixture {
    std::unique_ptr<Producer> producer;
    std::unique_ptr<Lease> lease;
    std::unique_ptr<Consumer> consumer;
    std::unique_ptr<RingReader> reader;

    Fixture()
    {
        ProducerOptions options;
        options.name = "fuzz-p2p-messages-" + std::to_string(::getpid());
        options.capacities.fill(1 << 16);
        options.capacities[static_cast<size_t>(Subsystem::Net)] = NET_CAPACITY;
        // The tracepoints (bitcoin::net::inbound_message) write to the global producer.
        options.install_global = true;
        producer = Must(Producer::Create(options), "Producer::Create");
        // No payload limit: the extractor reads the net ring whole (convert.h).
        lease = Must(producer->Attach(Subsystem::Net, {}), "Producer::Attach");
        const int fd = Must(producer->SegmentFd(), "the producer's segment");
        consumer = Must(Consumer::OpenFd(fd, "the producer's segment"), "Consumer::OpenFd");
        ::close(fd);
        reader =
            Must(consumer->OpenReader("net", lease->Grant(Subsystem::Net)), "Consumer::OpenReader");
    }
};

Fixture& TheFixture()
{
    // Destroyed at exit (libFuzzer ends with exit()), so the producer removes its segment.
    static Fixture fixture;
    return fixture;
}

// --- the parsers of tools/p2p ---------------------------------------------------------------

//! Formats an address; the text must be empty exactly when AddressText's header says so.
void CheckAddress(const p2p::NetAddr& addr)
{
    const std::string text = p2p::AddressText(addr);
    const size_t size = p2p::Bip155AddressSize(addr.network);
    const bool formatted = size != 0 && addr.bytes.size() == size;
    if (text.empty() == formatted) {
        Die("AddressText() of network " + std::to_string(addr.network) + " and " +
            std::to_string(addr.bytes.size()) + " bytes is " +
            (text.empty() ? "empty" : "\"" + text + "\""));
    }
}

void CheckAddresses(const Result<std::vector<p2p::AddressEntry>>& entries)
{
    if (!entries) return;
    for (const p2p::AddressEntry& e : entries.value())
        CheckAddress(e.addr);
}

//! Runs every parser over `payload`; dies where two that read the same message disagree.
void RunParsers(Payload payload)
{
    auto inventory = p2p::ParseInventory(payload);
    auto inventory_count = p2p::ParseInventoryCount(payload);
    if (inventory && (!inventory_count || *inventory_count != inventory->size()))
        Die("ParseInventoryCount() disagrees with ParseInventory()");

    auto headers = p2p::ParseHeaders(payload);
    auto headers_count = p2p::ParseHeadersCount(payload);
    if (headers && (!headers_count || *headers_count != headers->size()))
        Die("ParseHeadersCount() disagrees with ParseHeaders()");

    auto tx = p2p::ParseTx(payload);
    auto transaction = p2p::ParseTransaction(payload);
    if (bool(tx) != bool(transaction)) Die("ParseTx() and ParseTransaction() disagree");

    auto block = p2p::ParseFullBlock(payload);
    auto block_info = p2p::ParseBlock(payload, p2p::Txids::Compute);
    if ((block && !block->transactions.empty()) != bool(block_info))
        Die("ParseFullBlock() and ParseBlock() disagree");
    if (block && block_info && block->hash != block_info->hash)
        Die("ParseFullBlock() and ParseBlock() hash the header differently");

    auto nonce = p2p::ParseNonceExact(payload);
    auto nonce_prefix = p2p::ParseNonce(payload);
    if (nonce && (!nonce_prefix || *nonce_prefix != *nonce))
        Die("ParseNonce() disagrees with ParseNonceExact()");

    CheckAddresses(p2p::ParseAddr(payload));
    CheckAddresses(p2p::ParseAddrV2(payload));
    if (auto version = p2p::ParseVersion(payload)) {
        CheckAddress(p2p::ClassifyV1(version->addr_recv.ip));
        CheckAddress(p2p::ClassifyV1(version->addr_from.ip));
    }

    (void)p2p::ParseFeeFilter(payload);
    (void)p2p::ParseLocator(payload);
    (void)p2p::ParseSendCmpct(payload);
    (void)p2p::ParseCmpctBlock(payload);
    (void)p2p::ParseGetBlockTxn(payload);
    (void)p2p::ParseBlockTxn(payload);
    (void)p2p::ParseMerkleBlock(payload);
    (void)p2p::ParseFilterLoad(payload);
    (void)p2p::ParseFilterAdd(payload);
    (void)p2p::ParseReject(payload);
    (void)p2p::ParseAlert(payload);
    (void)p2p::ParseCFilterRequest(payload);
    (void)p2p::ParseCFilter(payload);
    (void)p2p::ParseCFHeaders(payload);
    (void)p2p::ParseGetCFCheckpt(payload);
    (void)p2p::ParseCFCheckpt(payload);
    (void)p2p::ParseEmpty(payload);
}

//! Whether the parser Convert() decodes `command` with accepts `payload`; nullopt for a
//! command Convert() has no decoder for.
std::optional<bool> ParserAccepts(const std::string& command, Payload payload)
{
    using Parser = std::function<bool(Payload)>;
    auto parser = [](auto f) -> Parser { return [f](Payload p) { return bool(f(p)); }; };
    static const std::map<std::string, Parser, std::less<>> parsers{
        {"version", parser(p2p::ParseVersion)},
        {"verack", parser(p2p::ParseEmpty)},
        {"addr", parser(p2p::ParseAddr)},
        {"addrv2", parser(p2p::ParseAddrV2)},
        {"sendaddrv2", parser(p2p::ParseEmpty)},
        {"inv", parser(p2p::ParseInventory)},
        {"getdata", parser(p2p::ParseInventory)},
        {"notfound", parser(p2p::ParseInventory)},
        {"getblocks", parser(p2p::ParseLocator)},
        {"getheaders", parser(p2p::ParseLocator)},
        {"mempool", parser(p2p::ParseEmpty)},
        {"tx", parser(p2p::ParseTx)},
        {"block", parser(p2p::ParseFullBlock)},
        {"headers", parser(p2p::ParseHeaders)},
        {"sendheaders", parser(p2p::ParseEmpty)},
        {"getaddr", parser(p2p::ParseEmpty)},
        {"ping", parser(p2p::ParseNonceExact)},
        {"pong", parser(p2p::ParseNonceExact)},
        {"merkleblock", parser(p2p::ParseMerkleBlock)},
        {"filterload", parser(p2p::ParseFilterLoad)},
        {"filteradd", parser(p2p::ParseFilterAdd)},
        {"filterclear", parser(p2p::ParseEmpty)},
        {"getcfilters", parser(p2p::ParseCFilterRequest)},
        {"cfilter", parser(p2p::ParseCFilter)},
        {"getcfheaders", parser(p2p::ParseCFilterRequest)},
        {"cfheaders", parser(p2p::ParseCFHeaders)},
        {"getcfcheckpt", parser(p2p::ParseGetCFCheckpt)},
        {"cfcheckpt", parser(p2p::ParseCFCheckpt)},
        {"sendcmpct", parser(p2p::ParseSendCmpct)},
        {"cmpctblock", parser(p2p::ParseCmpctBlock)},
        {"getblocktxn", parser(p2p::ParseGetBlockTxn)},
        {"blocktxn", parser(p2p::ParseBlockTxn)},
        {"alert", parser(p2p::ParseAlert)},
        {"reject", parser(p2p::ParseReject)},
        {"feefilter", parser(p2p::ParseFeeFilter)},
        {"wtxidrelay", parser(p2p::ParseEmpty)},
    };
    const auto it = parsers.find(command);
    if (it == parsers.end()) return std::nullopt;
    return it->second(payload);
}

// --- the converted event --------------------------------------------------------------------

//! Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as Rust's
//! str, which peer-observer decodes strings into, requires.
bool IsUtf8(std::string_view s)
{
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<uint8_t>(s[i]);
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<uint8_t>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

//! Whether Convert() refuses a payload that the parser of `command` accepts: what it holds
//! has no place in peer-observer's schema (convert.cpp: DecodeVersion, DecodeReject,
//! DecodeFilterLoad, DecodeCmpctBlock).
bool ConvertRefuses(const std::string& command, Payload payload)
{
    if (command == "version") return !IsUtf8(p2p::ParseVersion(payload).value().user_agent);
    if (command == "reject") {
        constexpr std::array<uint8_t, 8> bip61{0x01, 0x10, 0x11, 0x12, 0x40, 0x41, 0x42, 0x43};
        const p2p::Reject r = p2p::ParseReject(payload).value();
        return std::find(bip61.begin(), bip61.end(), r.code) == bip61.end() || !IsUtf8(r.message) ||
               !IsUtf8(r.reason);
    }
    if (command == "filterload") return p2p::ParseFilterLoad(payload).value().flags > 2;
    return false;
}

//! Dies naming the first string field of `message` (recursively) that is not UTF-8.
void CheckStrings(const google::protobuf::Message& message, const std::string& path)
{
    using google::protobuf::FieldDescriptor;
    const google::protobuf::Reflection* reflection = message.GetReflection();
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(message, &fields);
    for (const FieldDescriptor* field : fields) {
        const std::string name = path + "." + field->name();
        const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
        for (int i = 0; i < count; ++i) {
            if (field->type() == FieldDescriptor::TYPE_STRING) {
                const std::string s = field->is_repeated()
                                          ? reflection->GetRepeatedString(message, field, i)
                                          : reflection->GetString(message, field);
                if (!IsUtf8(s)) Die(name + " is not UTF-8");
            } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
                CheckStrings(field->is_repeated()
                                 ? reflection->GetRepeatedMessage(message, field, i)
                                 : reflection->GetMessage(message, field),
                             name);
            }
        }
    }
}

void CheckConverted(const extractor::Converted& converted, const std::string& command,
                    Payload payload)
{
    if (converted.subject != extractor::Subject::NetMsg) Die("a message is not on netmsg");
    ::event::Event event;
    if (!event.ParseFromString(converted.bytes)) Die("the converted event does not parse");
    if (!event.IsInitialized())
        Die("the converted event lacks " + event.InitializationErrorString());
    CheckStrings(event, "event");
    if (event.timestamp() != UNIX_MS) Die("the converted event has another timestamp");
    if (event.ebpf_extractor().ebpf_event_case() != ::ebpf_extractor::ebpf::kMessage)
        Die("the converted event is not a message");
    const pb_msg::MessageEvent& message = event.ebpf_extractor().message();
    const pb_msg::Metadata& meta = message.meta();
    if (meta.peer_id() != uint64_t(PEER) || meta.addr() != PEER_ADDR || !meta.inbound() ||
        meta.size() != payload.size()) {
        Die("the converted metadata differs from the event's");
    }
    if (IsUtf8(command) && meta.command() != command) Die("the converted command differs");

    const std::optional<bool> accepted = ParserAccepts(command, payload);
    // Payloads of old peers that peer-observer names without a decoder (convert.cpp).
    const bool old_form = payload.empty() && (command == "addrv2" || command == "ping");
    if (!accepted || old_form) {
        if (converted.undecodable) Die(command + " is undecodable: " + converted.error);
        if (!old_form && message.msg_case() != pb_msg::MessageEvent::kUnknown)
            Die("the unknown command " + command + " is not sent as Unknown");
        return;
    }
    if (!*accepted && !converted.undecodable)
        Die("a " + command + " payload its parser refuses is not undecodable");
    if (*accepted && converted.undecodable != ConvertRefuses(command, payload)) {
        Die("a " + command + " payload its parser accepts is " +
            (converted.undecodable ? "undecodable: " + converted.error : "decoded") +
            ", ConvertRefuses() says otherwise");
    }
    if (converted.undecodable) {
        if (message.msg_case() != pb_msg::MessageEvent::kUnknown ||
            message.unknown().payload() !=
                std::string_view{reinterpret_cast<const char*>(payload.data()), payload.size()}) {
            Die("an undecodable " + command + " is not sent as Unknown with its payload");
        }
    } else if (message.msg_case() == pb_msg::MessageEvent::kUnknown) {
        Die("a decoded " + command + " is sent as Unknown");
    }
}

void Run(std::span<const uint8_t> bytes)
{
    const P2pMessageInput in = P2pMessageInput::Decode(bytes);
    if (in.payload.size() > P2P_MAX_PAYLOAD) return;
    RunParsers(in.payload);

    Fixture& f = TheFixture();
    bitcoin::net::inbound_message(PEER, PEER_ADDR, "inbound", in.command.c_str(), in.payload.size(),
                                  in.payload.data());
    size_t views = 0;
    auto polled = f.reader->Poll([&](const EventView& view) {
        ++views;
        const std::optional<extractor::Converted> converted = extractor::Convert(view, UNIX_MS);
        if (!converted) Die("Convert() skips an inbound message");
        CheckConverted(*converted, in.command, in.payload);
    });
    if (!polled) Die("the reader failed: " + polled.error().message());
    if (views != 1) Die("one message emitted, " + std::to_string(views) + " read");
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
