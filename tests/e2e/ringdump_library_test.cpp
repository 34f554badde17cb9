// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! ringdump's library in process: JSON and enum spelling, the schema checks, the capture
//! file's damage detection and the message capture's refusals.

#include <tracering/events.h>
#include <tracering/schemas.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "capture_file.h"
#include "clock_tracker.h"
#include "decode/event_format.h"
#include "decode/event_schema.h"
#include "json.h"
#include "message_capture.h"
#include <sys/resource.h>
#include <sys/stat.h>

namespace tracering::ringdump {
namespace {

namespace fs = std::filesystem;
using test::ringdump::Json;
using test::ringdump::JsonParser;

fs::path TempPath(const std::string& what)
{
    static std::atomic<int> counter{0};
    return fs::temp_directory_path() /
           ("rdl-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

std::string Slurp(const fs::path& path)
{
    std::ifstream in{path, std::ios::binary};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string Quote(std::string_view text)
{
    std::string out;
    AppendJsonString(out, text);
    return out;
}

TEST(RingdumpJsonTest, StringsAreEscapedIntoValidJson)
{
    EXPECT_EQ(Quote("plain"), "\"plain\"");
    EXPECT_EQ(Quote("a\"b\\c/d"), R"("a\"b\\c/d")");
    EXPECT_EQ(Quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
    EXPECT_EQ(Quote(std::string_view{"\x01\x1f\x7f\0", 4}), R"("\u0001\u001f\u007f\u0000")");
    // Valid UTF-8 stays as it is, up to 4-byte sequences.
    EXPECT_EQ(Quote("caf\xc3\xa9 \xe2\x82\xbf \xf0\x9f\x98\x80"),
              "\"caf\xc3\xa9 \xe2\x82\xbf \xf0\x9f\x98\x80\"");
    // Invalid bytes become U+FFFD, one each: lone continuation, overlong, surrogate, cut.
    EXPECT_EQ(Quote("\xff"), R"("\ufffd")");
    EXPECT_EQ(Quote("\xc0\x80"), R"("\ufffd\ufffd")");
    EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");
    EXPECT_EQ(Quote("x\xe2\x82"), R"("x\ufffd\ufffd")");
    EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");
    // Whatever the bytes, the result parses as JSON.
    std::string all;
    for (int b = 0; b < 256; ++b) {
        all += char(b);
    }
    EXPECT_TRUE(JsonParser::Parse(Quote(all)));
}

TEST(RingdumpJsonTest, EnumValuesAreSpelledLikeBitcoinCore)
{
    EXPECT_EQ(EnumDisplayName("Inbound"), "inbound");
    EXPECT_EQ(EnumDisplayName("OutboundFullRelay"), "outbound-full-relay");
    EXPECT_EQ(EnumDisplayName("BlockRelayOnly"), "block-relay-only");
    EXPECT_EQ(EnumDisplayName("AddrFetch"), "addr-fetch");
    EXPECT_EQ(EnumDisplayName("IPv4"), "ipv4");
    EXPECT_EQ(EnumDisplayName("I2P"), "i2p");
    EXPECT_EQ(EnumDisplayName("CJDNS"), "cjdns");
    EXPECT_EQ(EnumDisplayName("ForceSync"), "force-sync");
}

TEST(RingdumpSchemaTest, TheBuiltinSchemaDescribesEveryEvent)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema) << schema.error().message();
    for (const EventInfo& e : EVENTS) {
        const EventDesc* desc = schema->Find(static_cast<uint16_t>(e.type));
        ASSERT_NE(desc, nullptr) << e.name;
        EXPECT_EQ(desc->ring, e.context);
        EXPECT_EQ(desc->name, e.name);
        EXPECT_GE(schema->TableIndexOf(static_cast<uint16_t>(e.type)), 0) << desc->table;
    }
    EXPECT_EQ(schema->Find(0), nullptr);
    const int32_t index = schema->TableIndexOf(uint16_t(EventType::NetInboundMessage));
    std::vector<std::string> names;
    for (const auto* f : schema->FieldsInOrder(uint32_t(index))) {
        names.push_back(f->name()->str());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"peer_id", "addr", "conn_type", "msg_type", "size",
                                               "payload", "conn_type_name"}));
}

//! A one-table schema whose single field has `type`, inside a struct when `is_struct`.
std::vector<uint8_t> SchemaWithField(reflection::BaseType base, int32_t index, bool is_struct,
                                     uint16_t offset = 0, int32_t bytesize = 8)
{
    flatbuffers::FlatBufferBuilder fbb;
    auto type = reflection::CreateType(fbb, base, reflection::None, index);
    auto field = reflection::CreateField(fbb, fbb.CreateString("f"), type, 0, offset);
    auto fields = fbb.CreateVector(std::vector{field});
    auto object = reflection::CreateObject(fbb, fbb.CreateString("tracering.t.T"), fields,
                                           is_struct, 8, bytesize);
    auto objects = fbb.CreateVector(std::vector{object});
    auto enums = fbb.CreateVector(std::vector<flatbuffers::Offset<reflection::Enum>>{});
    reflection::FinishSchemaBuffer(fbb, reflection::CreateSchema(fbb, objects, enums));
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

struct FieldSpec {
    reflection::BaseType base;
    reflection::BaseType element{reflection::None};
    int32_t index{-1};
    uint16_t offset{0};
    uint16_t fixed_length{0};
};

//! A schema of one object, "tracering.t.T" (object 0, so index 0 refers to itself), with
//! these fields, and one enum with a single value.
std::vector<uint8_t> SchemaWith(const std::vector<FieldSpec>& specs, bool is_struct,
                                int32_t bytesize)
{
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<reflection::Field>> fields;
    for (size_t i = 0; i < specs.size(); ++i) {
        const FieldSpec& s = specs[i];
        auto type = reflection::CreateType(fbb, s.base, s.element, s.index, s.fixed_length);
        fields.push_back(reflection::CreateField(fbb, fbb.CreateString("f" + std::to_string(i)),
                                                 type, uint16_t(i), s.offset));
    }
    auto object =
        reflection::CreateObject(fbb, fbb.CreateString("tracering.t.T"),
                                 fbb.CreateVectorOfSortedTables(&fields), is_struct, 8, bytesize);
    auto objects = fbb.CreateVector(std::vector{object});
    auto value = reflection::CreateEnumVal(fbb, fbb.CreateString("One"), 1);
    auto underlying = reflection::CreateType(fbb, reflection::UShort);
    auto e = reflection::CreateEnum(fbb, fbb.CreateString("tracering.t.E"),
                                    fbb.CreateVector(std::vector{value}), false, underlying);
    auto enums = fbb.CreateVector(std::vector{e});
    reflection::FinishSchemaBuffer(fbb, reflection::CreateSchema(fbb, objects, enums));
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

TEST(RingdumpSchemaTest, StructsThatWouldPrintWithoutEndAreRefused)
{
    const auto why = [](std::vector<uint8_t> schema) {
        auto loaded = EventSchema::Load_untrusted(std::move(schema), {});
        return loaded ? std::string{"accepted"} : loaded.error().message();
    };
    using reflection::BaseType;
    // An array of enum values whose enum does not exist.
    EXPECT_NE(why(SchemaWith({{.base = BaseType::Array,
                               .element = BaseType::UShort,
                               .index = 3,
                               .fixed_length = 2}},
                             true, 8))
                  .find("bad enum index"),
              std::string::npos);
    // The same with the enum that exists is fine.
    EXPECT_EQ(
        why(SchemaWith(
            {{.base = BaseType::Array, .element = BaseType::UShort, .index = 0, .fixed_length = 2}},
            true, 8)),
        "accepted");
    // A struct holding itself, directly or as an array element.
    EXPECT_NE(why(SchemaWith({{.base = BaseType::Obj, .index = 0}}, true, 8))
                  .find("no smaller than the struct holding it"),
              std::string::npos);
    EXPECT_NE(why(SchemaWith({{.base = BaseType::Array,
                               .element = BaseType::Obj,
                               .index = 0,
                               .fixed_length = 1}},
                             true, 8))
                  .find("no smaller than the struct holding it"),
              std::string::npos);
    // Fields sharing bytes.
    EXPECT_NE(
        why(SchemaWith({{.base = BaseType::Int, .offset = 0}, {.base = BaseType::Int, .offset = 2}},
                       true, 8))
            .find("overlapping fields"),
        std::string::npos);
    EXPECT_EQ(
        why(SchemaWith({{.base = BaseType::Int, .offset = 0}, {.base = BaseType::Int, .offset = 4}},
                       true, 8)),
        "accepted");
}

TEST(RingdumpFormatTest, AnEventThatExpandsWithoutEndIsCorruptNotPrinted)
{
    // A table with a vector of 16-bit values (field id 0, at vtable offset 4): each element is
    // one value to print.
    using reflection::BaseType;
    auto schema = EventSchema::Load_untrusted(
        SchemaWith({{.base = BaseType::Vector, .element = BaseType::UShort, .offset = 4}}, false,
                   0),
        {{.type = 0x8001, .ring = "t", .name = "t", .table = "tracering.t.T"}});
    ASSERT_TRUE(schema) << schema.error().message();
    const EventFormatter format{*schema, Style::Json, 0};
    const auto payload_of = [](size_t n) {
        flatbuffers::FlatBufferBuilder fbb;
        const auto values = fbb.CreateVector(std::vector<uint16_t>(n, 7));
        const auto start = fbb.StartTable();
        fbb.AddOffset(flatbuffers::FieldIndexToOffset(0), values);
        fbb.Finish(flatbuffers::Offset<flatbuffers::Table>(fbb.EndTable(start)));
        return std::vector<uint8_t>{fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
    };
    const auto small = payload_of(3);
    const Record fine{.type = 0x8001, .seq = 1, .timestamp_ns = 2, .payload = small};
    auto table = format.Decode(fine);
    ASSERT_TRUE(table) << table.error().message();
    std::string out = "before\n";
    ASSERT_TRUE(format.AppendEvent(out, "t", fine, *table));
    EXPECT_NE(out.find(R"("f0":[7,7,7])"), std::string::npos) << out;

    const auto huge = payload_of(EventFormatter::MAX_VALUES + 10);
    const Record hostile{.type = 0x8001, .seq = 2, .timestamp_ns = 3, .payload = huge};
    table = format.Decode(hostile);
    ASSERT_TRUE(table) << table.error().message();
    out = "before\n";
    auto shown = format.AppendEvent(out, "t", hostile, *table);
    ASSERT_FALSE(shown);
    EXPECT_EQ(shown.error().code(), ErrorCode::Corrupt);
    EXPECT_NE(shown.error().message().find("expand to more than"), std::string::npos);
    EXPECT_EQ(out, "before\n"); // nothing of it was kept
}

TEST(RingdumpSchemaTest, DamagedOrHostileSchemasAreRefused)
{
    auto builtin = EventSchema::Builtin();
    ASSERT_TRUE(builtin);
    const std::vector<uint8_t> bytes{builtin->bytes().begin(), builtin->bytes().end()};
    ASSERT_TRUE(EventSchema::Load_untrusted(bytes, builtin->events()));

    const auto refused = [](std::vector<uint8_t> schema, std::vector<EventDesc> events,
                            const std::string& why) {
        auto loaded = EventSchema::Load_untrusted(std::move(schema), std::move(events));
        if (loaded) return std::string{"accepted"};
        EXPECT_EQ(loaded.error().code(), ErrorCode::Corrupt);
        return loaded.error().message().find(why) != std::string::npos ? std::string{}
                                                                       : loaded.error().message();
    };
    EXPECT_EQ(refused({1, 2, 3, 4, 5, 6, 7, 8}, {}, "not a valid binary FlatBuffers schema"), "");
    EXPECT_EQ(refused({bytes.begin(), bytes.begin() + long(bytes.size() / 2)}, {},
                      "not a valid binary FlatBuffers schema"),
              "");
    EXPECT_EQ(refused(bytes, {{.type = 1, .ring = "net", .name = "x", .table = "tracering.No"}},
                      "has no table tracering.No"),
              "");
    EXPECT_EQ(
        refused(bytes,
                {{.type = 1, .ring = "net", .name = "a", .table = "tracering.net.InboundMessage"},
                 {.type = 1, .ring = "net", .name = "b", .table = "tracering.net.OutboundMessage"}},
                "listed twice"),
        "");
    // Index and layout checks FlatBuffers' own reflection code does not make.
    EXPECT_EQ(refused(SchemaWithField(reflection::Obj, 7, false), {}, "bad object index"), "");
    EXPECT_EQ(refused(SchemaWithField(reflection::Int, 3, false), {}, "bad enum index"), "");
    EXPECT_EQ(refused(SchemaWithField(reflection::Long, -1, true, 4), {}, "outside its struct"),
              "");
    EXPECT_EQ(refused(SchemaWithField(reflection::String, -1, true), {}, "inside a struct"), "");
    EXPECT_EQ(refused(SchemaWithField(reflection::Union, 0, false), {}, "unsupported type"), "");
    EXPECT_EQ(refused(SchemaWithField(reflection::Int, -1, true, 0, 1 << 20), {}, "has size"), "");
}

TEST(RingdumpSchemaTest, TypeBytesOutsideReflectionsBaseTypeAreRefused)
{
    // Found by fuzz/event_schema.cpp: Type::base_type() and element() cast any byte to
    // reflection::BaseType, and UBSan stopped at the schema byte -12 loaded as one.
    const auto refused = [](std::vector<uint8_t> schema, auto&& type_of,
                            flatbuffers::voffset_t which) {
        const auto* table = reinterpret_cast<const flatbuffers::Table*>(
            type_of(*reflection::GetSchema(schema.data())));
        const uint8_t* byte = table->GetAddressOf(which);
        if (!byte) return std::string{"the type byte is not stored"};
        schema[size_t(byte - schema.data())] = uint8_t(int8_t{-12});
        auto loaded = EventSchema::Load_untrusted(std::move(schema), {});
        if (loaded) return std::string{"accepted"};
        EXPECT_EQ(loaded.error().code(), ErrorCode::Corrupt);
        return loaded.error().message();
    };
    const auto field_type = [](const reflection::Schema& s) {
        return s.objects()->Get(0)->fields()->Get(0)->type();
    };
    const auto enum_type = [](const reflection::Schema& s) {
        return s.enums()->Get(0)->underlying_type();
    };
    using reflection::BaseType;
    const auto vector_of_shorts = SchemaWith(
        {{.base = BaseType::Vector, .element = BaseType::UShort, .offset = 4}}, false, 0);
    EXPECT_NE(refused(vector_of_shorts, field_type, reflection::Type::VT_BASE_TYPE)
                  .find("tracering.t.T.f0: unknown type -12"),
              std::string::npos);
    EXPECT_NE(refused(vector_of_shorts, field_type, reflection::Type::VT_ELEMENT)
                  .find("tracering.t.T.f0: unknown type -12"),
              std::string::npos);
    EXPECT_NE(refused(vector_of_shorts, enum_type, reflection::Type::VT_BASE_TYPE)
                  .find("enum tracering.t.E: unknown type -12"),
              std::string::npos);
}

TEST(RingdumpFormatTest, RecordsOfUnknownTypesShowTheirRawBytes)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const EventFormatter format{*schema, Style::Json, 0};
    const uint8_t payload[] = {1, 2, 0xab};
    const Record record{.type = 0x8001, .seq = 5, .timestamp_ns = 9, .payload = payload};
    auto table = format.Decode(record);
    ASSERT_TRUE(table);
    EXPECT_EQ(*table, nullptr);
    std::string out;
    EXPECT_TRUE(format.AppendEvent(out, "net", record, *table));
    EXPECT_EQ(out, "{\"ring\":\"net\",\"event\":\"type_32769\",\"seq\":5,\"ts_ns\":9,"
                   "\"unix_ns\":9,\"type\":32769,\"payload\":\"0102ab\"}\n");

    // A new clock offset applies to the records formatted after it.
    EventFormatter stepped{*schema, Style::Json, 0};
    stepped.SetClockOffset(1'700'000'000'000'000'000);
    out.clear();
    EXPECT_TRUE(stepped.AppendEvent(out, "net", record, *table));
    EXPECT_NE(out.find(",\"ts_ns\":9,\"unix_ns\":1700000000000000009,"), std::string::npos) << out;
}

TEST(RingdumpFormatTest, APayloadThatIsNotItsTableIsCorrupt)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const EventFormatter format{*schema, Style::Json, 0};
    alignas(8) const uint8_t garbage[16] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4};
    for (size_t size : {size_t{0}, size_t{3}, sizeof(garbage)}) {
        const Record record{
            .type = uint16_t(EventType::NetInboundMessage), .seq = 3, .payload = {garbage, size}};
        auto table = format.Decode(record);
        ASSERT_FALSE(table) << size;
        EXPECT_EQ(table.error().code(), ErrorCode::Corrupt);
        EXPECT_NE(table.error().message().find("net:inbound_message seq 3"), std::string::npos)
            << table.error().message();
        EXPECT_NE(table.error().message().find("not a valid tracering.net.InboundMessage"),
                  std::string::npos);
    }
}

TEST(RingdumpFormatTest, ARootOffsetOfZeroIsCorruptAsForEventViews)
{
    // Found by fuzz/event_view.cpp: flatbuffers::Verify() took a root offset of 0 (the table
    // on top of the offset, every field absent) that EventView::as<T>()'s verifier refuses,
    // so ringdump printed as an event of defaults what a C++ consumer rejects.
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const EventFormatter format{*schema, Style::Json, 0};
    alignas(8) const uint8_t payload[16] = {0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0x43};
    flatbuffers::Verifier generated{payload, sizeof(payload)};
    EXPECT_FALSE(generated.VerifyBuffer<net::OutboundConnection>(nullptr));
    const Record record{
        .type = uint16_t(EventType::NetOutboundConnection), .seq = 4, .payload = payload};
    auto table = format.Decode(record);
    ASSERT_FALSE(table);
    EXPECT_EQ(table.error().code(), ErrorCode::Corrupt);
    EXPECT_NE(table.error().message().find("not a valid tracering.net.OutboundConnection"),
              std::string::npos)
        << table.error().message();
}

TEST(RingdumpFormatTest, APayloadUnderTheSmallestFlatBufferIsCorruptAsForEventViews)
{
    // Found by fuzz/event_view.cpp: 8 bytes, a root offset to a table whose vtable is the
    // table itself and empty, pass flatbuffers::Verify(); the generated verifier refuses a
    // buffer under FLATBUFFERS_MIN_BUFFER_SIZE (12) bytes.
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const EventFormatter format{*schema, Style::Json, 0};
    alignas(8) const uint8_t payload[8] = {4, 0, 0, 0, 0, 0, 0, 0};
    flatbuffers::Verifier generated{payload, sizeof(payload)};
    EXPECT_FALSE(generated.VerifyBuffer<net::OutboundConnection>(nullptr));
    const Record record{
        .type = uint16_t(EventType::NetOutboundConnection), .seq = 6, .payload = payload};
    auto table = format.Decode(record);
    ASSERT_FALSE(table);
    EXPECT_EQ(table.error().code(), ErrorCode::Corrupt);
}

TEST(RingdumpFormatTest, AFieldOffsetOfZeroIsCorruptAsForEventViews)
{
    // Found by fuzz/event_view.cpp: flatbuffers::Verify() also takes a string field whose
    // offset is 0 (an empty string on top of its own offset), which the generated verifier
    // refuses (Table::VerifyOffset), so ringdump printed "addr":"" for a corrupt event.
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const EventFormatter format{*schema, Style::Json, 0};
    flatbuffers::FlatBufferBuilder fbb;
    // peer_id is stored right after addr's offset; 256 starts it with a 0 byte, the NUL an
    // empty string on top of that offset needs.
    fbb.Finish(net::CreateEvictedInboundConnection(fbb, 256, fbb.CreateString("1.2.3.4:5")));
    std::vector<uint8_t> payload{fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
    const Record record{
        .type = uint16_t(EventType::NetEvictedInboundConnection), .seq = 5, .payload = payload};
    ASSERT_TRUE(format.Decode(record));

    const auto* table = reinterpret_cast<const flatbuffers::Table*>(
        flatbuffers::GetRoot<net::EvictedInboundConnection>(payload.data()));
    const uint8_t* addr = table->GetAddressOf(net::EvictedInboundConnection::VT_ADDR);
    ASSERT_NE(addr, nullptr);
    std::memset(payload.data() + (addr - payload.data()), 0, sizeof(flatbuffers::uoffset_t));
    flatbuffers::Verifier generated{payload.data(), payload.size()};
    EXPECT_FALSE(generated.VerifyBuffer<net::EvictedInboundConnection>(nullptr));
    auto decoded = format.Decode(record);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code(), ErrorCode::Corrupt);
    EXPECT_NE(decoded.error().message().find("not a valid tracering.net.EvictedInboundConnection"),
              std::string::npos)
        << decoded.error().message();
}

//! Writes a small capture and returns its bytes.
std::string SmallCapture(const fs::path& path, const EventSchema& schema)
{
    CaptureHeader header;
    header.abi_version = 1;
    header.schema_hash = 0x1122334455667788;
    header.clock_offset_ns = -42;
    header.producer_pid = 77;
    header.start_unix_ns = 1'700'000'000'000'000'000;
    header.segment_name = "seg";
    header.rings = {"net", "mempool"};
    header.first_seq = {0, 5};
    header.events = schema.events();
    header.schema.assign(schema.bytes().begin(), schema.bytes().end());
    auto writer = CaptureWriter::Create(path, header);
    EXPECT_TRUE(writer) << writer.error().message();
    const uint8_t a[] = {1, 2, 3}, b[] = {4};
    // mempool: 3 lost and 2 other readers' events skipped between its start (5) and seq 10.
    EXPECT_TRUE((*writer)->Write(1, {.type = 64,
                                     .flags = 2,
                                     .seq = 10,
                                     .timestamp_ns = 11,
                                     .lost_before = 3,
                                     .skipped_before = 2,
                                     .payload = a}));
    EXPECT_TRUE((*writer)->Write(0, {.type = 1, .seq = 0, .timestamp_ns = 12, .payload = b}));
    EXPECT_TRUE((*writer)->WriteClock(-1'000'000'042)); // the system time was stepped back 1 s
    EXPECT_TRUE((*writer)->Write(0, {.type = 2, .seq = 1, .timestamp_ns = 13}));
    // 4 events of mempool lost after its last one read.
    EXPECT_TRUE((*writer)->WriteGap(1, 4, 0, 15));
    EXPECT_TRUE((*writer)->Finish(5));
    return Slurp(path);
}

//! Reads a capture to its end: "" if it is whole, else the error's message, or why it was
//! cut short.
std::string ReadWhole(const fs::path& path)
{
    auto reader = CaptureReader::Open(path);
    if (!reader) return reader.error().message();
    uint8_t ring = 0;
    Record record;
    for (;;) {
        auto next = (*reader)->Next(ring, record);
        if (!next) return next.error().message();
        if (next.value() == CaptureItem::End) return (*reader)->cut_short();
    }
}

TEST(RingdumpCaptureFileTest, Crc32IsTheIeeeCrcAndChains)
{
    // The check value of CRC-32/ISO-HDLC (what zlib, gzip and PNG use) for "123456789".
    const std::string text = "123456789";
    const std::span<const uint8_t> bytes{reinterpret_cast<const uint8_t*>(text.data()),
                                         text.size()};
    EXPECT_EQ(Crc32(bytes), 0xCBF43926u);
    EXPECT_EQ(Crc32(bytes.subspan(4), Crc32(bytes.first(4))), 0xCBF43926u);
    EXPECT_EQ(Crc32({}), 0u);
}

TEST(RingdumpCaptureFileTest, Crc32AgreesWithTheBitwiseCrcAtEveryLengthAndAlignment)
{
    // Short buffers take Crc32's own table loop, long ones zlib's crc32(): both must give
    // the CRC computed bit by bit, from any start, chained or not.
    const auto bitwise = [](std::span<const uint8_t> bytes) {
        uint32_t crc = 0xFFFFFFFFu;
        for (const uint8_t b : bytes) {
            crc ^= b;
            for (int k = 0; k < 8; ++k) {
                crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        }
        return ~crc;
    };
    std::vector<uint8_t> data(20000);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = uint8_t(i * 131 + (i >> 7));
    }
    for (size_t offset = 0; offset < 8; ++offset) {
        for (size_t length : {0, 1, 7, 8, 9, 15, 16, 17, 150, 4095, 4096, 4097, 19000}) {
            const std::span<const uint8_t> bytes{data.data() + offset, length};
            const uint32_t want = bitwise(bytes);
            EXPECT_EQ(Crc32(bytes), want) << length << " bytes at " << offset;
            const size_t half = length / 2;
            EXPECT_EQ(Crc32(bytes.subspan(half), Crc32(bytes.first(half))), want)
                << length << " bytes at " << offset << ", chained";
        }
    }
}

TEST(RingdumpCaptureFileTest, WhatIsWrittenReadsBack)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const fs::path path = TempPath("capture");
    SmallCapture(path, *schema);
    auto reader = CaptureReader::Open(path);
    ASSERT_TRUE(reader) << reader.error().message();
    const CaptureHeader& h = (*reader)->header();
    EXPECT_EQ(h.abi_version, 1u);
    EXPECT_EQ(h.schema_hash, 0x1122334455667788u);
    EXPECT_EQ(h.clock_offset_ns, -42);
    EXPECT_EQ(h.producer_pid, 77u);
    EXPECT_EQ(h.segment_name, "seg");
    EXPECT_EQ(h.rings, (std::vector<std::string>{"net", "mempool"}));
    EXPECT_EQ(h.events.size(), EVENTS.size());
    EXPECT_EQ(h.schema.size(), schema->bytes().size());
    EXPECT_EQ(h.first_seq, (std::vector<uint64_t>{0, 5}));
    uint8_t ring = 0;
    Record r;
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Event);
    EXPECT_EQ(ring, 1);
    EXPECT_EQ(r.type, 64);
    EXPECT_EQ(r.flags, 2);
    EXPECT_EQ(r.seq, 10u);
    EXPECT_EQ(r.timestamp_ns, 11u);
    EXPECT_EQ(r.lost_before, 3u);
    EXPECT_EQ(r.skipped_before, 2u);
    EXPECT_EQ(std::vector<uint8_t>(r.payload.begin(), r.payload.end()),
              (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ((*reader)->clock_offset_ns(), -42);
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Event);
    EXPECT_EQ((*reader)->clock_offset_ns(), -42);
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Event);
    EXPECT_EQ(r.payload.size(), 0u);
    EXPECT_EQ((*reader)->clock_offset_ns(), -1'000'000'042);
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Gap);
    EXPECT_EQ(ring, 1);
    EXPECT_EQ(r.lost_before, 4u);
    EXPECT_EQ(r.seq, 15u);
    auto end = (*reader)->Next(ring, r);
    ASSERT_TRUE(end) << end.error().message();
    EXPECT_EQ(end.value(), CaptureItem::End);
    EXPECT_TRUE((*reader)->complete());
    EXPECT_EQ((*reader)->cut_short(), "");
    // The writer's totals: per ring, events, losses and the next seq.
    const CaptureEnd& totals = (*reader)->end();
    EXPECT_EQ(totals.end_unix_ns, 5u);
    EXPECT_EQ(totals.frames, 5u);
    ASSERT_EQ(totals.rings.size(), 2u);
    EXPECT_EQ(totals.rings[0].delivered, 2u);
    EXPECT_EQ(totals.rings[0].lost, 0u);
    EXPECT_EQ(totals.rings[0].next_seq, 2u);
    EXPECT_EQ(totals.rings[1].delivered, 1u);
    EXPECT_EQ(totals.rings[1].lost, 7u);
    EXPECT_EQ(totals.rings[1].next_seq, 15u);
    fs::remove(path);
}

TEST(RingdumpCaptureFileTest, AWriterDroppedWithoutFinishLeavesACaptureCutShort)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const fs::path path = TempPath("dropped");
    CaptureHeader header;
    header.rings = {"net"};
    header.first_seq = {0};
    header.events = schema->events();
    header.schema.assign(schema->bytes().begin(), schema->bytes().end());
    {
        auto writer = CaptureWriter::Create(path, header);
        ASSERT_TRUE(writer) << writer.error().message();
        ASSERT_TRUE((*writer)->Write(0, {.type = 1, .seq = 0}));
        ASSERT_TRUE((*writer)->Write(0, {.type = 1, .seq = 1}));
    }
    // Both events were written whole, with no end frame after them.
    auto reader = CaptureReader::Open(path);
    ASSERT_TRUE(reader) << reader.error().message();
    uint8_t ring = 0;
    Record r;
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Event);
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::Event);
    EXPECT_EQ(r.seq, 1u);
    ASSERT_EQ((*reader)->Next(ring, r).value(), CaptureItem::End);
    EXPECT_FALSE((*reader)->complete());
    EXPECT_NE((*reader)->cut_short().find("so what came after its 2 events is missing"),
              std::string::npos)
        << (*reader)->cut_short();
    fs::remove(path);
}

TEST(RingdumpCaptureFileTest, EveryDamagedByteAndEveryCutIsDetected)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const fs::path path = TempPath("whole");
    const std::string good = SmallCapture(path, *schema);
    ASSERT_EQ(ReadWhole(path), "");
    const fs::path damaged = TempPath("damaged");
    const auto write = [&](const std::string& bytes) {
        std::ofstream out{damaged, std::ios::binary | std::ios::trunc};
        out << bytes;
    };
    // Every byte of the preamble and the frames; one in 61 of the header, which is mostly the
    // schema under a single checksum (all of it would only make the test slow).
    const size_t header_end = 20 + (uint8_t(good[12]) | uint8_t(good[13]) << 8 |
                                    uint8_t(good[14]) << 16 | size_t(uint8_t(good[15])) << 24);
    ASSERT_LT(header_end, good.size());
    std::vector<size_t> positions;
    for (size_t i = 0; i < good.size(); ++i) {
        if (i < 20 || i >= header_end || i % 61 == 0) positions.push_back(i);
    }
    for (size_t i : positions) {
        std::string bytes = good;
        bytes[i] ^= char(1 << (i % 8));
        write(bytes);
        ASSERT_NE(ReadWhole(damaged), "") << "a flipped bit at byte " << i << " went unnoticed";
    }
    for (size_t size : positions) {
        write(good.substr(0, size));
        ASSERT_NE(ReadWhole(damaged), "") << "a file cut to " << size << " bytes read as whole";
    }
    // Cut at a frame boundary it is cut short, not damaged; anywhere else it is damaged.
    const std::string end_cut = good.substr(0, good.size() - (8 + 8 + 8 + 8 + 2 + 2 * 24));
    write(end_cut);
    EXPECT_NE(ReadWhole(damaged).find("was cut short at byte " + std::to_string(end_cut.size())),
              std::string::npos)
        << ReadWhole(damaged);
    write(end_cut.substr(0, end_cut.size() - 1));
    EXPECT_NE(ReadWhole(damaged).find("truncated"), std::string::npos) << ReadWhole(damaged);
    fs::remove(path);
    fs::remove(damaged);
}

TEST(RingdumpClockTest, AStepOfTheSystemTimeIsAdoptedNoiseIsNot)
{
    int64_t measured = 5'000'000;
    ClockTracker every_time{[&] { return measured; }, std::chrono::milliseconds{0}};
    EXPECT_EQ(every_time.offset(), 5'000'000);
    measured += ClockTracker::STEP_NS; // measurement noise up to STEP_NS is ignored
    EXPECT_FALSE(every_time.Update());
    EXPECT_EQ(every_time.offset(), 5'000'000);
    measured = -2'000'000'000; // the system time was stepped back
    EXPECT_TRUE(every_time.Update());
    EXPECT_EQ(every_time.offset(), -2'000'000'000);
    EXPECT_FALSE(every_time.Update());

    // Not measured again before the interval has passed.
    int calls = 0;
    ClockTracker hourly{[&] { return ++calls * int64_t{1'000'000'000}; }, std::chrono::hours{1}};
    EXPECT_FALSE(hourly.Update());
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(hourly.offset(), 1'000'000'000);
}

//! A private output directory, open, removed with everything in it at the end.
class OutputDir
{
public:
    explicit OutputDir(const std::string& what) : m_path{TempPath(what)}
    {
        auto fd = OpenOutputDirectory(m_path, /*create=*/true);
        EXPECT_TRUE(fd) << fd.error().message();
        if (fd) m_fd = std::move(fd.value());
    }
    ~OutputDir() { fs::remove_all(m_path); }
    const fs::path& path() const { return m_path; }
    int fd() const { return m_fd.get(); }

private:
    fs::path m_path;
    Fd m_fd;
};

TEST(RingdumpMessageCaptureTest, OnlyWholeWritableMessagesAreWritten)
{
    const OutputDir out{"messages"};
    const fs::path& dir = out.path();
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<uint8_t> payload{9, 8, 7};
    const auto message = [&](const char* type, uint64_t size, uint16_t flags) {
        fbb.Clear();
        fbb.Finish(net::CreateInboundMessageDirect(
            fbb, 1, "[::1]:8333", net::ConnectionType::Inbound, type, size, &payload));
        return Record{.type = uint16_t(EventType::NetInboundMessage),
                      .flags = flags,
                      .timestamp_ns = 5'000,
                      .payload = {fbb.GetBufferPointer(), fbb.GetSize()}};
    };
    {
        MessageCapture capture{out.fd(), dir, 1'000'000};
        ASSERT_TRUE(capture.Add(message("block", 1000, RECORD_FLAG_TRUNCATED)));
        ASSERT_TRUE(capture.Add(message("block", 1000, 0))); // size says more than payload
        ASSERT_TRUE(capture.Add(message("thirteenchars", 3, 0)));
        EXPECT_TRUE(fs::is_empty(dir));
        ASSERT_TRUE(capture.Add(message("tx", 3, 0)));
        const uint8_t added[] = {0};
        ASSERT_TRUE(capture.Add({.type = uint16_t(EventType::MempoolAdded), .payload = added}));
        ASSERT_TRUE(capture.Close());
        EXPECT_EQ(capture.counts().truncated, 2u);
        EXPECT_EQ(capture.counts().unwritable, 1u);
        EXPECT_EQ(capture.counts().received, 1u);
        EXPECT_EQ(capture.peers(), 1u);
    }
    // (5000 ns + 1 ms offset) / 1000 = 1005 us.
    const std::string expected{"\xed\x03\0\0\0\0\0\0tx\0\0\0\0\0\0\0\0\0\0\x03\0\0\0\x09\x08\x07",
                               27};
    EXPECT_EQ(Slurp(dir / "[__1]_8333" / "msgs_recv.dat"), expected);
    // Private, as the node makes them under umask 077.
    struct stat st;
    ASSERT_EQ(::stat((dir / "[__1]_8333").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat((dir / "[__1]_8333" / "msgs_recv.dat").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

//! Lowers the largest file this process may write (as a full disk would stop it), for the
//! scope; SIGXFSZ is ignored meanwhile so writes fail with EFBIG instead.
class FileSizeLimit
{
public:
    explicit FileSizeLimit(rlim_t bytes)
    {
        ::getrlimit(RLIMIT_FSIZE, &m_saved);
        m_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = m_saved;
        limit.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit()
    {
        ::setrlimit(RLIMIT_FSIZE, &m_saved);
        std::signal(SIGXFSZ, m_handler);
    }

private:
    rlimit m_saved{};
    void (*m_handler)(int){};
};

TEST(RingdumpMessageCaptureTest, AFailedWriteLeavesOnlyWholeRecords)
{
    const OutputDir out{"full"};
    const fs::path& dir = out.path();
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<uint8_t> payload(1000, 0x5a);
    fbb.Finish(net::CreateInboundMessageDirect(fbb, 1, "127.0.0.1:1", net::ConnectionType::Inbound,
                                               "block", payload.size(), &payload));
    const Record message{.type = uint16_t(EventType::NetInboundMessage),
                         .timestamp_ns = 5'000,
                         .payload = {fbb.GetBufferPointer(), fbb.GetSize()}};
    const fs::path file = dir / "127.0.0.1_1" / "msgs_recv.dat";
    uint64_t written = 0;
    {
        MessageCapture capture{out.fd(), dir, 0};
        const FileSizeLimit limit{10'000}; // room for 9 records of 1024 bytes, and a part
        Result<void> added;
        // Flushed after each record, so the write that fails is the one of the record that
        // does not fit (Add() gathers a file's records and writes them in pieces).
        for (int i = 0; i < 20 && (added = capture.Add(message)) && (added = capture.Flush()); ++i)
            ++written;
        ASSERT_FALSE(added) << "the size limit was not reached";
        EXPECT_NE(added.error().message().find("cannot write"), std::string::npos);
    }
    EXPECT_EQ(written, 9u);
    EXPECT_EQ(fs::file_size(file), written * 1024); // cut back to the last whole record
    {
        // A later capture into the same directory never appends to what it did not create.
        MessageCapture capture{out.fd(), dir, 0};
        const auto added = capture.Add(message);
        ASSERT_FALSE(added);
        EXPECT_EQ(added.error().code(), ErrorCode::AlreadyExists);
        EXPECT_NE(added.error().message().find((dir / "127.0.0.1_1").string() +
                                               " already exists, and ringdump writes only into "
                                               "folders it creates"),
                  std::string::npos)
            << added.error().message();
    }
    EXPECT_EQ(fs::file_size(file), written * 1024);
}

TEST(RingdumpMessageCaptureTest, GatheredRecordsAreWrittenWholeOrNotAtAll)
{
    // Add() gathers a file's records; a write of them that fails leaves the file as it was
    // before them, so it still ends at a whole record. The same for a large payload, which
    // is written from where it is.
    const OutputDir out{"gathered"};
    const fs::path& dir = out.path();
    flatbuffers::FlatBufferBuilder fbb;
    const auto message = [&](size_t size) {
        const std::vector<uint8_t> payload(size, 0x5a);
        fbb.Clear();
        fbb.Finish(net::CreateInboundMessageDirect(fbb, 1, "127.0.0.1:1",
                                                   net::ConnectionType::Inbound, "block",
                                                   payload.size(), &payload));
        return Record{.type = uint16_t(EventType::NetInboundMessage),
                      .payload = {fbb.GetBufferPointer(), fbb.GetSize()}};
    };
    const fs::path file = dir / "127.0.0.1_1" / "msgs_recv.dat";
    MessageCapture capture{out.fd(), dir, 0};
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(capture.Add(message(1000)));
    ASSERT_TRUE(capture.Flush());
    EXPECT_EQ(fs::file_size(file), 5u * 1024);
    {
        const FileSizeLimit limit{10'000};
        for (int i = 0; i < 10; ++i)
            ASSERT_TRUE(capture.Add(message(1000))); // gathered: nothing written yet
        const auto flushed = capture.Flush();
        ASSERT_FALSE(flushed) << "the size limit was not reached";
        EXPECT_NE(flushed.error().message().find("cannot write"), std::string::npos);
        EXPECT_EQ(fs::file_size(file), 5u * 1024);
        const auto added = capture.Add(message(256 << 10));
        ASSERT_FALSE(added) << "the size limit was not reached";
        EXPECT_EQ(fs::file_size(file), 5u * 1024);
    }
    ASSERT_TRUE(capture.Add(message(256 << 10)));
    ASSERT_TRUE(capture.Close());
    EXPECT_EQ(fs::file_size(file), 5u * 1024 + 24 + (256 << 10));
}

TEST(RingdumpMessageCaptureTest, FilesClosedForLackOfDescriptorsAreReopenedOnlyIfUnchanged)
{
    const OutputDir out{"reopen"};
    const fs::path& dir = out.path();
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<uint8_t> payload{1};
    const auto message = [&](const std::string& addr) {
        fbb.Clear();
        fbb.Finish(net::CreateInboundMessageDirect(
            fbb, 1, addr.c_str(), net::ConnectionType::Inbound, "ping", 1, &payload));
        return Record{.type = uint16_t(EventType::NetInboundMessage),
                      .payload = {fbb.GetBufferPointer(), fbb.GetSize()}};
    };
    MessageCapture capture{out.fd(), dir, 0};
    ASSERT_TRUE(capture.Add(message("10.0.0.0:1")));
    // More peers than files are kept open: the first file is closed, then reopened.
    for (int i = 1; i <= 64; ++i)
        ASSERT_TRUE(capture.Add(message("10.0.0." + std::to_string(i) + ":1")));
    ASSERT_TRUE(capture.Add(message("10.0.0.0:1")));
    ASSERT_TRUE(capture.Flush());
    EXPECT_EQ(fs::file_size(dir / "10.0.0.0_1" / "msgs_recv.dat"), 2u * 25);

    // Replaced by a link (as only this user could) while closed: never written through.
    for (int i = 1; i <= 64; ++i)
        ASSERT_TRUE(capture.Add(message("10.0.0." + std::to_string(i) + ":1")));
    const fs::path target = dir / "target";
    std::ofstream{target} << "mine";
    fs::remove(dir / "10.0.0.0_1" / "msgs_recv.dat");
    fs::create_symlink(target, dir / "10.0.0.0_1" / "msgs_recv.dat");
    const auto added = capture.Add(message("10.0.0.0:1"));
    ASSERT_FALSE(added);
    EXPECT_NE(added.error().message().find("was replaced since this capture created it"),
              std::string::npos)
        << added.error().message();
    EXPECT_EQ(Slurp(target), "mine");
}

TEST(RingdumpCaptureFileTest, OutputDirectoriesOthersCanChangeAreRefused)
{
    const fs::path dir = TempPath("out");
    ASSERT_TRUE(OpenOutputDirectory(dir / "a" / "b", /*create=*/true));
    struct stat st;
    ASSERT_EQ(::stat((dir / "a" / "b").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_EQ(OpenOutputDirectory(dir / "none", /*create=*/false).error().code(),
              ErrorCode::NotFound);
    const auto refused = [&](const fs::path& path, const std::string& why) {
        const auto opened = OpenOutputDirectory(path, /*create=*/true);
        if (opened) return "opened " + path.string();
        EXPECT_EQ(opened.error().code(), ErrorCode::InvalidArgument);
        return opened.error().message().find(why) == std::string::npos ? opened.error().message()
                                                                       : std::string{};
    };
    fs::create_directories(dir / "world");
    ::chmod((dir / "world").c_str(), 0777);
    EXPECT_EQ(refused(dir / "world", "can be written by every user (mode 0777)"), "");
    ::chmod((dir / "world").c_str(), 01777); // sticky, as /tmp: others still create files
    EXPECT_EQ(refused(dir / "world", "can be written by every user (mode 1777)"), "");
    fs::create_directories(dir / "group");
    ::chmod((dir / "group").c_str(), 0770);
    EXPECT_EQ(refused(dir / "group", "can be written by its group (mode 0770)"), "");
    fs::create_directories(dir / "theirs");
    ASSERT_EQ(::chown((dir / "theirs").c_str(), 65534, 65534), 0);
    EXPECT_EQ(refused(dir / "theirs", "belongs to uid 65534, not to you"), "");
    fs::create_directory_symlink(dir / "a", dir / "link");
    EXPECT_EQ(refused(dir / "link", "is a symbolic link; give the directory itself"), "");
    std::ofstream{dir / "file"} << "x";
    EXPECT_EQ(refused(dir / "file", "is not a directory"), "");
    fs::remove_all(dir);
}

TEST(RingdumpCaptureFileTest, AFailedWriteLeavesAFileThatReadsAsCutShortNotDamaged)
{
    auto schema = EventSchema::Builtin();
    ASSERT_TRUE(schema);
    const fs::path path = TempPath("cut");
    CaptureHeader header;
    header.rings = {"net"};
    header.events = schema->events();
    header.schema.assign(schema->bytes().begin(), schema->bytes().end());
    // Small payloads are gathered in the writer's buffer; large ones (a block) are written
    // from where they are, after the frames gathered before them.
    for (const size_t size : {size_t{4096}, size_t{256} << 10}) {
        SCOPED_TRACE(std::to_string(size) + "-byte payloads");
        const std::vector<uint8_t> payload(size, 1);
        uint64_t events_written = 0;
        {
            auto writer = CaptureWriter::Create(path, header);
            ASSERT_TRUE(writer) << writer.error().message();
            const FileSizeLimit limit{fs::file_size(path) + 3 * 1024 * 1024};
            Result<void> wrote;
            for (uint64_t i = 0;
                 i < 2000 &&
                 (wrote = (*writer)->Write(0, {.type = 1, .seq = i, .payload = payload}));
                 ++i) {
            }
            ASSERT_FALSE(wrote) << "the size limit was not reached";
            events_written = (*writer)->events_written();
            auto finished = (*writer)->Finish(1);
            ASSERT_FALSE(finished);
            EXPECT_EQ(finished.error().message(), wrote.error().message());
        }
        struct stat st;
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        // Cut back to its last whole frame, and no end frame after the failure: the file is
        // cut short, not damaged.
        const std::string why = ReadWhole(path);
        EXPECT_NE(why.find("was cut short at byte"), std::string::npos) << why;
        EXPECT_EQ(why.find("checksum"), std::string::npos) << why;
        // What the writer says the file holds (ringdump capture prints it) is what it holds.
        uint64_t events_read = 0;
        auto reader = CaptureReader::Open(path);
        ASSERT_TRUE(reader) << reader.error().message();
        uint8_t ring = 0;
        Record record;
        for (;;) {
            auto next = (*reader)->Next(ring, record);
            ASSERT_TRUE(next) << next.error().message();
            if (next.value() == CaptureItem::End) break;
            events_read += next.value() == CaptureItem::Event;
        }
        EXPECT_GT(events_read, 0u);
        EXPECT_EQ(events_written, events_read);
        fs::remove_all(path);
    }
}

TEST(RingdumpMessageCaptureTest, PeerFoldersStayInsideTheOutputDirectory)
{
    EXPECT_EQ(MessageCapture::PeerDirectory("127.0.0.1:8333"), "127.0.0.1_8333");
    EXPECT_EQ(MessageCapture::PeerDirectory("[::1]:18444"), "[__1]_18444");
    EXPECT_EQ(MessageCapture::PeerDirectory("../../etc:1"), ".._.._etc_1");
    EXPECT_EQ(MessageCapture::PeerDirectory(".."), "_..");
    EXPECT_EQ(MessageCapture::PeerDirectory(""), "_");
}

} // namespace
} // namespace tracering::ringdump
