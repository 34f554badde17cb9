// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Compiled into the consumer library and into tracering_catalogue_gen, so the build and every
// consumer read a schema's catalogue by the same rules. Needs only the standard library,
// FlatBuffers and tracering/result.h.

#include <tracering/catalogue.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>

namespace tracering {
namespace {

// The numbering rules of tracering/events.h (EVENTS_PER_RING_MAX, EventType::UserFirst),
// repeated here because the generator that writes events.h' catalogue cannot include it.
constexpr uint32_t EVENTS_PER_RING = 64;
constexpr uint32_t FIRST_USER_TYPE = 0x8000;

std::optional<std::string> Attribute(const reflection::Object& o, const char* key)
{
    if (!o.attributes()) return std::nullopt;
    for (const reflection::KeyValue* kv : *o.attributes()) {
        if (kv->key() && kv->key()->str() == key) {
            return kv->value() ? kv->value()->str() : std::string{};
        }
    }
    return std::nullopt;
}

Error Fail(const std::string& what) { return Error{ErrorCode::Corrupt, what}; }

} // namespace

std::string PascalCase(const std::string& snake)
{
    std::string out;
    bool upper = true;
    for (char c : snake) {
        if (c == '_') {
            upper = true;
            continue;
        }
        out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
        upper = false;
    }
    return out;
}

std::string SnakeCase(const std::string& pascal)
{
    std::string out;
    for (size_t i = 0; i < pascal.size(); ++i) {
        const char c = pascal[i];
        if (std::isupper(static_cast<unsigned char>(c))) {
            if (i > 0) out += '_';
            out += char(std::tolower(static_cast<unsigned char>(c)));
        } else {
            out += c;
        }
    }
    return out;
}

Result<Catalogue> ReadCatalogue(const reflection::Schema& schema)
{
    Catalogue out;
    for (const reflection::Enum* e : *schema.enums()) {
        if (!e->name() || e->name()->str() != "tracering.Ring") continue;
        for (const reflection::EnumVal* v : *e->values()) {
            if (!v->name() || v->value() < 0 || v->value() >= 0x10000) {
                return Fail("the schema's enum tracering.Ring has a value out of range");
            }
            out.rings.push_back({v->name()->str(), static_cast<uint16_t>(v->value())});
        }
    }
    if (out.rings.empty()) return Fail("the schema declares no enum tracering.Ring");
    for (size_t i = 0; i < out.rings.size(); ++i) {
        if (out.rings[i].index != i) {
            return Fail("ring " + out.rings[i].name + " is " + std::to_string(out.rings[i].index) +
                        "; tracering.Ring must number its rings 0, 1, 2, ... without gaps");
        }
    }

    std::map<uint32_t, std::string> by_type;
    const auto* objects = schema.objects();
    for (uint32_t i = 0; i < objects->size(); ++i) {
        const reflection::Object& o = *objects->Get(i);
        const std::optional<std::string> number = Attribute(o, "event");
        if (!number) continue;
        const std::string full = o.name()->str();
        const std::string where = "table " + full;
        if (o.is_struct()) return Fail(where + " is a struct; an event must be a table");
        const size_t dot = full.rfind('.');
        const std::string ns = dot == std::string::npos ? "" : full.substr(0, dot);
        const std::string table = full.substr(dot == std::string::npos ? 0 : dot + 1);
        const CatalogueRing* ring = nullptr;
        for (const CatalogueRing& r : out.rings) {
            if (ns == "tracering." + r.name) ring = &r;
        }
        if (!ring) {
            return Fail(where + " has an event number but its namespace '" + ns +
                        "' is not tracering.<ring> for a ring of tracering.Ring");
        }
        char* end = nullptr;
        const unsigned long type = std::strtoul(number->c_str(), &end, 10);
        if (number->empty() || *end != '\0' ||
            !std::isdigit(static_cast<unsigned char>((*number)[0]))) {
            return Fail(where + ": event number '" + *number + "' is not a number");
        }
        const uint32_t first = uint32_t{ring->index} * EVENTS_PER_RING;
        if (type == 0 || type >= FIRST_USER_TYPE || type < first ||
            type >= first + EVENTS_PER_RING) {
            return Fail(where + ": event " + *number + " is outside ring " + ring->name +
                        "'s numbers " + std::to_string(first) + ".." +
                        std::to_string(first + EVENTS_PER_RING - 1) + " (0 is padding)");
        }
        if (const auto [it, fresh] = by_type.emplace(uint32_t(type), full); !fresh) {
            return Fail(where + ": event " + std::to_string(type) + " is already " + it->second +
                        "; a number is never reused");
        }
        const std::string name = SnakeCase(table);
        if (PascalCase(name) != table) {
            return Fail(where + ": its event name " + name + " does not spell the table back");
        }
        out.events.push_back({static_cast<uint16_t>(type), ring->name, name, full, i});
    }
    std::sort(out.events.begin(), out.events.end(),
              [](const CatalogueEvent& a, const CatalogueEvent& b) { return a.type < b.type; });
    return out;
}

Result<Catalogue> ReadCatalogue(std::span<const uint8_t> bfbs)
{
    flatbuffers::Verifier verifier{bfbs.data(), bfbs.size()};
    if (bfbs.empty() || !reflection::VerifySchemaBuffer(verifier)) {
        return Fail("the schema (" + std::to_string(bfbs.size()) +
                    " bytes) is not a binary FlatBuffers schema (.bfbs)");
    }
    return ReadCatalogue(*reflection::GetSchema(bfbs.data()));
}

} // namespace tracering
