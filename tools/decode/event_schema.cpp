// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "decode/event_schema.h"

#include <tracering/catalogue.h>
#include <tracering/detail/schema_bytes.h>
#include <tracering/events.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace tracering::ringdump {

const std::span<const uint8_t> EMBEDDED_SCHEMA{detail::SCHEMA_BYTES};

namespace {

using reflection::BaseType;

//! Largest struct ringdump accepts from a schema; FlatBuffers structs are small by nature,
//! so anything bigger is a broken file, not a real layout.
constexpr int32_t MAX_STRUCT_SIZE = 1 << 16;


//! Checks that a schema's types refer only to objects and enums that exist and that struct
//! layouts fit their declared sizes: FlatBuffers' reflection code indexes these tables
//! without bounds checks, so a schema from a file must pass this before any use.
class LayoutChecker
{
public:
    explicit LayoutChecker(const reflection::Schema& schema) : m_schema{schema} {}

    Result<void> Check()
    {
        const auto* objects = m_schema.objects();
        const auto* enums = m_schema.enums();
        for (uint32_t i = 0; i < enums->size(); ++i) {
            const reflection::Enum* e = enums->Get(i);
            if (e->is_union()) return Fail("enum " + e->name()->str() + " is a union");
            if (auto ok = CheckBaseTypes(*e->underlying_type(), "enum " + e->name()->str()); !ok) {
                return ok;
            }
            if (!IsScalar(e->underlying_type()->base_type())) {
                return Fail("enum " + e->name()->str() + " has a non-integer type");
            }
        }
        for (uint32_t i = 0; i < objects->size(); ++i) {
            const reflection::Object* o = objects->Get(i);
            if (o->is_struct() && (o->bytesize() <= 0 || o->bytesize() > MAX_STRUCT_SIZE)) {
                return Fail("struct " + o->name()->str() + " has size " +
                            std::to_string(o->bytesize()));
            }
            // A struct's fields, by offset: each must fit, none may overlap, and a struct
            // inside must be strictly smaller, so no struct contains itself and printing one
            // visits at most its own bytes.
            std::vector<std::pair<uint64_t, uint64_t>> spans;
            for (const reflection::Field* f : *o->fields()) {
                const std::string where = o->name()->str() + "." + f->name()->str();
                if (auto ok = CheckType(*f->type(), o->is_struct(), where); !ok) return ok;
                if (o->is_struct()) {
                    const uint64_t size = InlineSize(*f->type());
                    if (uint64_t{f->offset()} + size > uint64_t(o->bytesize())) {
                        return Fail(where + " lies outside its struct");
                    }
                    const reflection::Object* inner = NestedStruct(*f->type());
                    if (inner && inner->bytesize() >= o->bytesize()) {
                        return Fail(where + " is a struct no smaller than the struct holding it");
                    }
                    spans.emplace_back(f->offset(), size);
                }
            }
            std::sort(spans.begin(), spans.end());
            for (size_t k = 1; k < spans.size(); ++k) {
                if (spans[k - 1].first + spans[k - 1].second > spans[k].first) {
                    return Fail("struct " + o->name()->str() + " has overlapping fields");
                }
            }
        }
        return {};
    }

private:
    Result<void> Fail(const std::string& what) const
    {
        return Error{ErrorCode::Corrupt, "the event schema is unusable: " + what};
    }

    bool ValidEnum(int32_t index) const
    {
        return index >= 0 && uint32_t(index) < m_schema.enums()->size();
    }
    const reflection::Object* ObjectAt(int32_t index) const
    {
        if (index < 0 || uint32_t(index) >= m_schema.objects()->size()) return nullptr;
        return m_schema.objects()->Get(uint32_t(index));
    }

    //! The struct a struct field holds (itself, or as array elements), else nullptr.
    const reflection::Object* NestedStruct(const reflection::Type& t) const
    {
        if (t.base_type() == reflection::Obj) return ObjectAt(t.index());
        if (t.base_type() == reflection::Array && t.element() == reflection::Obj) {
            return ObjectAt(t.index());
        }
        return nullptr;
    }

    //! Bytes a field of this type takes inside a struct (types are checked first).
    uint64_t InlineSize(const reflection::Type& t) const
    {
        if (IsScalar(t.base_type())) return ScalarSize(t.base_type());
        if (t.base_type() == reflection::Obj) return uint64_t(ObjectAt(t.index())->bytesize());
        if (t.base_type() == reflection::Array) {
            const uint64_t element = IsScalar(t.element())
                                         ? ScalarSize(t.element())
                                         : uint64_t(ObjectAt(t.index())->bytesize());
            return element * t.fixed_length();
        }
        return 0;
    }

    //! Type::base_type() and Type::element() cast the schema's byte to reflection::BaseType,
    //! and a byte outside that enum's values is undefined behaviour once cast: each type's
    //! bytes are checked as integers before either accessor is called on it.
    Result<void> CheckBaseTypes(const reflection::Type& t, const std::string& where) const
    {
        const auto* table = reinterpret_cast<const flatbuffers::Table*>(&t);
        for (const auto field : {reflection::Type::VT_BASE_TYPE, reflection::Type::VT_ELEMENT}) {
            const int8_t value = table->GetField<int8_t>(field, reflection::None);
            if (value < reflection::None || value >= reflection::MaxBaseType) {
                return Fail(where + ": unknown type " + std::to_string(value));
            }
        }
        return {};
    }

    Result<void> CheckType(const reflection::Type& t, bool in_struct, const std::string& where)
    {
        if (auto ok = CheckBaseTypes(t, where); !ok) return ok;
        const BaseType base = t.base_type();
        if (IsScalar(base)) {
            if (t.index() != -1 && !ValidEnum(t.index())) return Fail(where + ": bad enum index");
            return {};
        }
        switch (base) {
        case reflection::String:
            if (in_struct) return Fail(where + ": a string inside a struct");
            return {};
        case reflection::Vector:
            if (in_struct) return Fail(where + ": a vector inside a struct");
            if (IsScalar(t.element())) {
                if (t.index() != -1 && !ValidEnum(t.index())) {
                    return Fail(where + ": bad enum index");
                }
                return {};
            }
            if (t.element() == reflection::String) return {};
            if (t.element() == reflection::Obj && ObjectAt(t.index())) return {};
            return Fail(where + ": unsupported vector element type");
        case reflection::Obj: {
            const reflection::Object* o = ObjectAt(t.index());
            if (!o) return Fail(where + ": bad object index");
            if (in_struct && !o->is_struct()) return Fail(where + ": a table inside a struct");
            return {};
        }
        case reflection::Array: {
            if (!in_struct) return Fail(where + ": a fixed-size array outside a struct");
            if (t.fixed_length() == 0) return Fail(where + ": an empty array");
            if (IsScalar(t.element())) {
                if (t.index() != -1 && !ValidEnum(t.index())) {
                    return Fail(where + ": bad enum index");
                }
                return {};
            }
            const reflection::Object* o = ObjectAt(t.index());
            if (t.element() == reflection::Obj && o && o->is_struct()) return {};
            return Fail(where + ": unsupported array element type");
        }
        default:
            return Fail(where + ": unsupported type " + std::to_string(int(base)));
        }
    }

    const reflection::Schema& m_schema;
};

} // namespace

std::string TableNameOf(std::string_view ring, std::string_view name)
{
    return "tracering." + std::string{ring} + "." + PascalCase(std::string{name});
}

Result<EventSchema> EventSchema::Make(std::vector<uint8_t> bfbs, std::vector<EventDesc> events)
{
    flatbuffers::Verifier verifier{bfbs.data(), bfbs.size()};
    if (!reflection::VerifySchemaBuffer(verifier)) {
        return Error{ErrorCode::Corrupt,
                     "the event schema is not a valid binary FlatBuffers schema (.bfbs)"};
    }
    const reflection::Schema& schema = *reflection::GetSchema(bfbs.data());
    if (auto ok = LayoutChecker{schema}.Check(); !ok) return ok.error();

    EventSchema out;
    const auto* objects = schema.objects();
    for (const EventDesc& e : events) {
        int32_t index = -1;
        for (uint32_t i = 0; i < objects->size(); ++i) {
            if (objects->Get(i)->name()->string_view() == e.table) index = int32_t(i);
        }
        if (index < 0 || objects->Get(uint32_t(index))->is_struct()) {
            return Error{ErrorCode::Corrupt, "the event schema has no table " + e.table +
                                                 " for event " + e.ring + ":" + e.name};
        }
        if (!out.m_by_type.emplace(e.type, out.m_events.size()).second) {
            return Error{ErrorCode::Corrupt, "event type " + std::to_string(e.type) +
                                                 " is listed twice in the event catalogue"};
        }
        out.m_events.push_back(e);
        out.m_tables.push_back(index);
    }
    out.m_fields.resize(objects->size());
    for (uint32_t i = 0; i < objects->size(); ++i) {
        auto& fields = out.m_fields[i];
        for (const reflection::Field* f : *objects->Get(i)->fields()) {
            if (!f->deprecated()) fields.push_back(f);
        }
        // The schema lists fields by name; the schema's author declared them by id.
        std::stable_sort(fields.begin(), fields.end(),
                         [](const auto* a, const auto* b) { return a->id() < b->id(); });
    }
    // Moving the vector keeps its buffer, so the pointers taken above stay valid.
    out.m_bytes = std::make_shared<const std::vector<uint8_t>>(std::move(bfbs));
    return out;
}

Result<EventSchema> EventSchema::Builtin()
{
    return FromProducer_untrusted({EMBEDDED_SCHEMA.begin(), EMBEDDED_SCHEMA.end()});
}

Result<EventSchema> EventSchema::FromProducer_untrusted(std::vector<uint8_t> bfbs)
{
    auto catalogue = ReadCatalogue(bfbs);
    if (!catalogue) return catalogue.error();
    std::vector<EventDesc> events;
    for (const CatalogueEvent& e : catalogue->events) {
        events.push_back({.type = e.type, .ring = e.ring, .name = e.name, .table = e.table});
    }
    return Make(std::move(bfbs), std::move(events));
}

Result<EventSchema> EventSchema::Load_untrusted(std::vector<uint8_t> bfbs,
                                                std::vector<EventDesc> events)
{
    return Make(std::move(bfbs), std::move(events));
}

const EventDesc* EventSchema::Find(uint16_t type) const
{
    const auto it = m_by_type.find(type);
    return it == m_by_type.end() ? nullptr : &m_events[it->second];
}

int32_t EventSchema::TableIndexOf(uint16_t type) const
{
    const auto it = m_by_type.find(type);
    return it == m_by_type.end() ? -1 : m_tables[it->second];
}

bool IsScalar(BaseType t) { return t >= reflection::UType && t <= reflection::Double; }

uint32_t ScalarSize(BaseType t)
{
    switch (t) {
    case reflection::UType:
    case reflection::Bool:
    case reflection::Byte:
    case reflection::UByte:
        return 1;
    case reflection::Short:
    case reflection::UShort:
        return 2;
    case reflection::Int:
    case reflection::UInt:
    case reflection::Float:
        return 4;
    case reflection::Long:
    case reflection::ULong:
    case reflection::Double:
        return 8;
    default:
        return 0;
    }
}

} // namespace tracering::ringdump
