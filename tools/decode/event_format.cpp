// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "decode/event_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace tracering::ringdump {

using reflection::BaseType;

namespace {

//! Nesting beyond this is printed as null: event tables are flat, and a hostile schema from
//! a file could otherwise make a struct contain itself.
constexpr int MAX_DEPTH = 16;
//! Bytes of a payload or other byte vector shown in a text line before it is shortened.
constexpr size_t TEXT_HEX_LIMIT = 32;

template <typename T>
T Load(const uint8_t* at)
{
    return flatbuffers::ReadScalar<T>(at); // FlatBuffers are little-endian on every host
}

Scalar ReadScalar(BaseType base, const uint8_t* at)
{
    Scalar s;
    switch (base) {
    case reflection::Bool:
    case reflection::UType:
    case reflection::UByte:
        s.bits = Load<uint8_t>(at);
        break;
    case reflection::Byte:
        s.is_signed = true;
        s.bits = uint64_t(int64_t{Load<int8_t>(at)});
        break;
    case reflection::Short:
        s.is_signed = true;
        s.bits = uint64_t(int64_t{Load<int16_t>(at)});
        break;
    case reflection::UShort:
        s.bits = Load<uint16_t>(at);
        break;
    case reflection::Int:
        s.is_signed = true;
        s.bits = uint64_t(int64_t{Load<int32_t>(at)});
        break;
    case reflection::UInt:
        s.bits = Load<uint32_t>(at);
        break;
    case reflection::Long:
        s.is_signed = true;
        s.bits = uint64_t(Load<int64_t>(at));
        break;
    case reflection::ULong:
        s.bits = Load<uint64_t>(at);
        break;
    case reflection::Float:
        s.is_float = true;
        s.real = Load<float>(at);
        break;
    case reflection::Double:
        s.is_float = true;
        s.real = Load<double>(at);
        break;
    default:
        break;
    }
    return s;
}

Scalar DefaultScalar(const reflection::Field& field, BaseType base)
{
    Scalar s;
    if (base == reflection::Float || base == reflection::Double) {
        s.is_float = true;
        s.real = field.default_real();
    } else {
        s.is_signed = base == reflection::Byte || base == reflection::Short ||
                      base == reflection::Int || base == reflection::Long;
        s.bits = uint64_t(field.default_integer());
    }
    return s;
}


void AppendInt(std::string& out, const Scalar& s)
{
    char buf[24];
    const auto r = s.is_signed ? std::to_chars(buf, buf + sizeof(buf), int64_t(s.bits))
                               : std::to_chars(buf, buf + sizeof(buf), s.bits);
    out.append(buf, r.ptr);
}

void AppendNumber(std::string& out, const Scalar& s)
{
    if (!s.is_float) return AppendInt(out, s);
    if (!std::isfinite(s.real)) {
        out += "null"; // JSON has no NaN or infinity
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof(buf), s.real);
    out.append(buf, r.ptr);
}

//! Length of the valid UTF-8 sequence at the start of `s`, or 0 if it is not one (overlong
//! forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s)
{
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
    const unsigned char c = b(0);
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && b(1) >= 0xA0) return 0; // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(1) >= 0x90) return 0; // past U+10FFFF
        return 4;
    }
    return 0;
}

//! Whether one of the event table's own fields that hold an offset (a string, a vector or a
//! table) holds 0: the value on top of its own offset. flatbuffers::Verify() accepts that;
//! the generated verifiers behind EventView::as<T>() refuse it (Table::VerifyOffset).
bool HasSelfOffset(const reflection::Schema& schema, const reflection::Object& object,
                   const flatbuffers::Table& table)
{
    for (const reflection::Field* f : *object.fields()) {
        const BaseType base = f->type()->base_type();
        const bool offset = base == reflection::String || base == reflection::Vector ||
                            (base == reflection::Obj &&
                             !schema.objects()->Get(uint32_t(f->type()->index()))->is_struct());
        const uint8_t* at = table.GetAddressOf(f->offset());
        if (offset && at && flatbuffers::ReadScalar<flatbuffers::uoffset_t>(at) == 0) return true;
    }
    return false;
}

} // namespace

void AppendJsonString(std::string& out, std::string_view text)
{
    static constexpr char HEX[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < text.size();) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const size_t n = Utf8SequenceLength(text.substr(i));
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                out += "\\u00";
                out += HEX[c >> 4];
                out += HEX[c & 15];
            } else {
                out += char(c);
            }
        }
        ++i;
    }
    out += '"';
}

void AppendHex(std::string& out, std::span<const uint8_t> bytes, bool reversed)
{
    static constexpr char HEX[] = "0123456789abcdef";
    const size_t start = out.size();
    out.resize(start + bytes.size() * 2);
    char* p = out.data() + start;
    for (size_t i = 0; i < bytes.size(); ++i) {
        const uint8_t b = reversed ? bytes[bytes.size() - 1 - i] : bytes[i];
        *p++ = HEX[b >> 4];
        *p++ = HEX[b & 15];
    }
}

std::string EnumDisplayName(std::string_view schema_name)
{
    std::string out;
    for (size_t i = 0; i < schema_name.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(schema_name[i]);
        if (c == '_') {
            out += '-';
            continue;
        }
        if (std::isupper(c) && i > 0 &&
            std::islower(static_cast<unsigned char>(schema_name[i - 1]))) {
            out += '-';
        }
        out += char(std::tolower(c));
    }
    return out;
}

Record RecordOf(const EventView& view)
{
    return Record{.type = view.raw_type(),
                  .flags = view.flags(),
                  .seq = view.seq(),
                  .timestamp_ns = view.timestamp_ns(),
                  .lost_before = view.lost_before(),
                  .payload = view.payload()};
}

EventFormatter::EventFormatter(EventSchema schema, Style style, int64_t clock_offset_ns)
    : m_schema{std::move(schema)}, m_style{style}, m_clock_offset_ns{clock_offset_ns}
{
    const auto* objects = m_schema.schema().objects();
    for (uint32_t i = 0; i < objects->size(); ++i) {
        if (objects->Get(i)->name()->string_view() == "tracering.Hash256" &&
            objects->Get(i)->is_struct()) {
            m_hash_struct = int32_t(i);
        }
    }
}

std::string EventFormatter::EventName(uint16_t type) const
{
    if (const EventDesc* e = m_schema.Find(type)) return e->ring + ":" + e->name;
    return "?:type_" + std::to_string(type);
}

Result<const flatbuffers::Table*> EventFormatter::Decode(const Record& record) const
{
    const int32_t index = m_schema.TableIndexOf(record.type);
    if (index < 0) return static_cast<const flatbuffers::Table*>(nullptr);
    const reflection::Schema& schema = m_schema.schema();
    const reflection::Object& table = *schema.objects()->Get(uint32_t(index));
    // flatbuffers::Verify() skips the buffer checks of the generated verifiers behind
    // EventView::as<T>() (Verifier::VerifyBufferFromStart): a root offset that is not 0 (the
    // root table on top of the offset itself), in a buffer of FLATBUFFERS_MIN_BUFFER_SIZE.
    using flatbuffers::soffset_t, flatbuffers::uoffset_t; // named by the macro
    const flatbuffers::Verifier root{record.payload.data(), record.payload.size()};
    if (record.payload.size() < FLATBUFFERS_MIN_BUFFER_SIZE || root.VerifyOffset(0) == 0 ||
        !flatbuffers::Verify(schema, table, record.payload.data(), record.payload.size()) ||
        HasSelfOffset(schema, table, *flatbuffers::GetAnyRoot(record.payload.data()))) {
        return Error{ErrorCode::Corrupt,
                     "event " + EventName(record.type) + " seq " + std::to_string(record.seq) +
                         ": its " + std::to_string(record.payload.size()) +
                         "-byte payload is not a valid " + table.name()->str() + " table"};
    }
    return flatbuffers::GetAnyRoot(record.payload.data());
}

std::optional<int64_t> EventFormatter::PeerId(const Record& record,
                                              const flatbuffers::Table* table) const
{
    const int32_t index = m_schema.TableIndexOf(record.type);
    if (!table || index < 0) return std::nullopt;
    for (const reflection::Field* f : m_schema.FieldsInOrder(uint32_t(index))) {
        const BaseType base = f->type()->base_type();
        if (f->name()->string_view() != "peer_id" || !IsScalar(base) || base == reflection::Float ||
            base == reflection::Double) {
            continue;
        }
        const uint8_t* at = table->GetAddressOf(f->offset());
        const Scalar s = at ? ReadScalar(base, at) : DefaultScalar(*f, base);
        return int64_t(s.bits);
    }
    return std::nullopt;
}

void EventFormatter::AppendLoss(std::string& out, std::string_view ring, uint64_t lost,
                                uint64_t before_seq) const
{
    if (m_style == Style::Json) {
        out += "{\"lost\":" + std::to_string(lost) + ",\"ring\":";
        AppendJsonString(out, ring);
        out += ",\"before_seq\":" + std::to_string(before_seq) + "}\n";
    } else {
        out += "-- lost " + std::to_string(lost) + " event" + (lost == 1 ? "" : "s") + " of ring " +
               std::string{ring} + " before seq " + std::to_string(before_seq) + " --\n";
    }
}

Result<void> EventFormatter::AppendEvent(std::string& out, std::string_view ring,
                                         const Record& record,
                                         const flatbuffers::Table* table) const
{
    const size_t start = out.size();
    m_values_left = MAX_VALUES;
    const EventDesc* desc = m_schema.Find(record.type);
    const int32_t index = m_schema.TableIndexOf(record.type);
    const std::string name = desc ? desc->name : "type_" + std::to_string(record.type);
    if (m_style == Style::Json) {
        out += "{\"ring\":";
        AppendJsonString(out, ring);
        out += ",\"event\":";
        AppendJsonString(out, name);
        out += ",\"seq\":" + std::to_string(record.seq);
        out += ",\"ts_ns\":" + std::to_string(record.timestamp_ns);
        out += ",\"unix_ns\":" + std::to_string(int64_t(record.timestamp_ns) + m_clock_offset_ns);
    } else {
        const int64_t unix_ns = int64_t(record.timestamp_ns) + m_clock_offset_ns;
        const std::time_t secs = std::time_t(std::max<int64_t>(unix_ns, 0) / 1'000'000'000);
        std::tm local{};
        localtime_r(&secs, &local);
        char clock[32];
        std::strftime(clock, sizeof(clock), "%H:%M:%S", &local);
        char micros[16];
        std::snprintf(micros, sizeof(micros), ".%06d",
                      int(std::max<int64_t>(unix_ns, 0) % 1'000'000'000 / 1000));
        out += clock;
        out += micros;
        out += ' ';
        out += ring;
        out += ':';
        out += name;
        out += " seq=" + std::to_string(record.seq);
    }
    if (table && index >= 0) {
        AppendFields(out, uint32_t(index), reinterpret_cast<const uint8_t*>(table),
                     /*is_struct=*/false, /*top=*/true, 0);
    } else {
        // A type this schema does not describe (a newer producer's, or an embedder's own):
        // its number and raw bytes, so nothing is hidden.
        out += m_style == Style::Json ? ",\"type\":" : " type=";
        out += std::to_string(record.type);
        out += m_style == Style::Json ? ",\"payload\":" : " payload=";
        AppendBytes(out, record.payload, /*reversed=*/false, /*top=*/true);
    }
    if (record.truncated()) out += m_style == Style::Json ? ",\"truncated\":true" : " [truncated]";
    out += m_style == Style::Json ? "}\n" : "\n";
    if (m_values_left == 0) {
        // Only a hostile schema or payload gets here: shared subtables or huge vectors that
        // would print without end. Nothing of the event is kept.
        out.resize(start);
        return Error{ErrorCode::Corrupt, "the event's fields expand to more than " +
                                             std::to_string(MAX_VALUES) +
                                             " values; its schema or payload is hostile"};
    }
    return {};
}

void EventFormatter::AppendBytes(std::string& out, std::span<const uint8_t> bytes, bool reversed,
                                 bool top) const
{
    const bool text = top && m_style == Style::Text;
    if (!text) {
        out += '"';
        AppendHex(out, bytes, reversed);
        out += '"';
        return;
    }
    if (bytes.size() <= TEXT_HEX_LIMIT || reversed) {
        AppendHex(out, bytes, reversed);
        return;
    }
    AppendHex(out, bytes.first(TEXT_HEX_LIMIT));
    out += "...(" + std::to_string(bytes.size()) + " bytes)";
}

void EventFormatter::AppendScalar(std::string& out, const reflection::Type& type, BaseType base,
                                  const Scalar& s, bool top) const
{
    if (base == reflection::Bool) {
        out += s.bits ? "true" : "false";
        return;
    }
    if (const reflection::EnumVal* v = EnumValueOf(type, s)) {
        const std::string name = EnumDisplayName(v->name()->string_view());
        if (top && m_style == Style::Text) {
            out += name;
        } else {
            AppendJsonString(out, name);
        }
        return;
    }
    AppendNumber(out, s);
}

const reflection::EnumVal* EventFormatter::EnumValueOf(const reflection::Type& type,
                                                       const Scalar& s) const
{
    const auto* enums = m_schema.schema().enums();
    if (type.index() < 0 || uint32_t(type.index()) >= enums->size() || s.is_float) return nullptr;
    for (const reflection::EnumVal* v : *enums->Get(uint32_t(type.index()))->values()) {
        if (uint64_t(v->value()) == s.bits) return v;
    }
    return nullptr; // a value this schema does not name (from a newer producer)
}

FieldValue EventFormatter::ValueAt(const reflection::Field& field, const uint8_t* base,
                                   bool in_struct) const
{
    const reflection::Type& type = *field.type();
    const BaseType kind = type.base_type();
    const auto* table = reinterpret_cast<const flatbuffers::Table*>(base);
    // Inside a struct every field is inline at its offset; in a table it may be absent.
    const uint8_t* at = in_struct ? base + field.offset() : table->GetAddressOf(field.offset());
    FieldValue v;
    if (IsScalar(kind)) {
        if (!at && field.optional()) return v;
        v.kind = FieldValue::Kind::Scalar;
        v.scalar = at ? ReadScalar(kind, at) : DefaultScalar(field, kind);
        if (kind != reflection::Bool) v.enum_value = EnumValueOf(type, v.scalar);
        return v;
    }
    if (!at) return v;
    v.kind = FieldValue::Kind::Composite;
    switch (kind) {
    case reflection::String:
        v.kind = FieldValue::Kind::String;
        v.text = table->GetPointer<const flatbuffers::String*>(field.offset())->string_view();
        break;
    case reflection::Obj:
        if (type.index() == m_hash_struct) {
            v.kind = FieldValue::Kind::Hash;
            v.bytes = {
                at, size_t(m_schema.schema().objects()->Get(uint32_t(type.index()))->bytesize())};
        }
        break;
    case reflection::Vector:
        if ((type.element() == reflection::UByte || type.element() == reflection::Byte) &&
            type.index() < 0) {
            const auto* vec =
                table->GetPointer<const flatbuffers::Vector<uint8_t>*>(field.offset());
            v.kind = FieldValue::Kind::Bytes;
            v.bytes = {vec->Data(), vec->size()};
        }
        break;
    case reflection::Array:
        if (type.element() == reflection::UByte || type.element() == reflection::Byte) {
            v.kind = FieldValue::Kind::Bytes;
            v.bytes = {at, size_t(type.fixed_length())};
        }
        break;
    default:
        v.kind = FieldValue::Kind::Null;
    }
    return v;
}

Result<void> EventFormatter::AppendFieldJson(std::string& out, const reflection::Field& field,
                                             const flatbuffers::Table& table) const
{
    const size_t start = out.size();
    m_values_left = MAX_VALUES;
    // Below the top level, AppendFieldValue writes JSON in either style.
    AppendFieldValue(out, field, reinterpret_cast<const uint8_t*>(&table), /*in_struct=*/false,
                     /*top=*/false, 0);
    if (m_values_left == 0) {
        out.resize(start);
        return Error{ErrorCode::Corrupt, "field " + field.name()->str() + " expands to more than " +
                                             std::to_string(MAX_VALUES) +
                                             " values; its schema or payload is hostile"};
    }
    return {};
}

void EventFormatter::AppendFields(std::string& out, uint32_t object_index, const uint8_t* base,
                                  bool is_struct, bool top, int depth) const
{
    const bool json = m_style == Style::Json || !top;
    if (!top) out += '{';
    bool first = !top;
    for (const reflection::Field* field : m_schema.FieldsInOrder(object_index)) {
        const BaseType type = field->type()->base_type();
        if (top && !json && (!IsScalar(type) || field->optional()) &&
            !reinterpret_cast<const flatbuffers::Table*>(base)->GetAddressOf(field->offset())) {
            continue; // text lines leave out what is absent (a string only set for unknowns)
        }
        if (json) {
            if (!first) out += ',';
            first = false;
            AppendJsonString(out, field->name()->string_view());
            out += ':';
        } else {
            out += ' ';
            out += field->name()->string_view();
            out += '=';
        }
        AppendFieldValue(out, *field, base, is_struct, top, depth);
    }
    if (!top) out += '}';
}

void EventFormatter::AppendFieldValue(std::string& out, const reflection::Field& field,
                                      const uint8_t* base, bool in_struct, bool top,
                                      int depth) const
{
    const reflection::Type& type = *field.type();
    const BaseType kind = type.base_type();
    const auto& objects = *m_schema.schema().objects();
    const auto* table = reinterpret_cast<const flatbuffers::Table*>(base);
    // Inside a struct every field is inline at its offset; in a table it may be absent.
    const uint8_t* at = in_struct ? base + field.offset() : table->GetAddressOf(field.offset());
    if (depth > MAX_DEPTH || !Spend()) {
        out += "null";
        return;
    }
    const FieldValue value = ValueAt(field, base, in_struct);
    switch (value.kind) {
    case FieldValue::Kind::Null:
        out += "null";
        return;
    case FieldValue::Kind::Scalar:
        return AppendScalar(out, type, kind, value.scalar, top);
    case FieldValue::Kind::String:
        return AppendJsonString(out, value.text);
    case FieldValue::Kind::Bytes:
        return AppendBytes(out, value.bytes, /*reversed=*/false, top);
    case FieldValue::Kind::Hash:
        return AppendBytes(out, value.bytes, /*reversed=*/true, top);
    case FieldValue::Kind::Composite:
        break;
    }
    switch (kind) {
    case reflection::Obj: {
        const reflection::Object& object = *objects.Get(uint32_t(type.index()));
        if (object.is_struct()) {
            AppendFields(out, uint32_t(type.index()), at, /*is_struct=*/true, false, depth + 1);
        } else {
            const auto* sub = table->GetPointer<const flatbuffers::Table*>(field.offset());
            AppendFields(out, uint32_t(type.index()), reinterpret_cast<const uint8_t*>(sub),
                         /*is_struct=*/false, false, depth + 1);
        }
        return;
    }
    case reflection::Vector: {
        const auto* vec = table->GetPointer<const flatbuffers::Vector<uint8_t>*>(field.offset());
        const BaseType element = type.element();
        const uint8_t* data = vec->Data();
        const size_t n = vec->size();
        out += '[';
        for (size_t i = 0; i < n && Spend(); ++i) {
            if (i) out += ',';
            if (IsScalar(element)) {
                AppendScalar(out, type, element,
                             ReadScalar(element, data + i * ScalarSize(element)), false);
            } else if (element == reflection::String) {
                const auto* strings = reinterpret_cast<
                    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>*>(vec);
                AppendJsonString(out, strings->Get(flatbuffers::uoffset_t(i))->string_view());
            } else {
                const reflection::Object& object = *objects.Get(uint32_t(type.index()));
                if (object.is_struct()) {
                    const uint8_t* item = data + i * size_t(object.bytesize());
                    if (type.index() == m_hash_struct) {
                        AppendBytes(out, {item, size_t(object.bytesize())}, true, false);
                    } else {
                        AppendFields(out, uint32_t(type.index()), item, true, false, depth + 1);
                    }
                } else {
                    const auto* tables = reinterpret_cast<
                        const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>*>(vec);
                    AppendFields(
                        out, uint32_t(type.index()),
                        reinterpret_cast<const uint8_t*>(tables->Get(flatbuffers::uoffset_t(i))),
                        false, false, depth + 1);
                }
            }
        }
        out += ']';
        return;
    }
    case reflection::Array: {
        const BaseType element = type.element();
        const size_t n = type.fixed_length();
        out += '[';
        for (size_t i = 0; i < n && Spend(); ++i) {
            if (i) out += ',';
            if (IsScalar(element)) {
                AppendScalar(out, type, element, ReadScalar(element, at + i * ScalarSize(element)),
                             false);
            } else {
                const reflection::Object& object = *objects.Get(uint32_t(type.index()));
                AppendFields(out, uint32_t(type.index()), at + i * size_t(object.bytesize()), true,
                             false, depth + 1);
            }
        }
        out += ']';
        return;
    }
    default:
        out += "null";
    }
}

} // namespace tracering::ringdump
