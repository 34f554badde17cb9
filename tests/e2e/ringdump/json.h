// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_E2E_RINGDUMP_JSON_H
#define TRACERING_TESTS_E2E_RINGDUMP_JSON_H

//! A strict JSON parser for checking ringdump's output in tests: it keeps object keys in
//! their order and numbers as their exact text (so 64-bit values compare exactly), and
//! refuses anything RFC 8259 does not allow, including invalid UTF-8 and trailing bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tracering::test::ringdump {

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind{Kind::Null};
    bool boolean{false};
    std::string text; //!< a string's decoded value, or a number's exact text
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;

    //! The member called `key`, or nullptr.
    const Json* Get(std::string_view key) const
    {
        for (const auto& [k, v] : members) {
            if (k == key) return &v;
        }
        return nullptr;
    }
    std::vector<std::string> Keys() const
    {
        std::vector<std::string> out;
        for (const auto& m : members) {
            out.push_back(m.first);
        }
        return out;
    }
};

class JsonParser
{
public:
    //! The value `text` holds, or nullopt if it is not exactly one valid JSON value.
    static std::optional<Json> Parse(std::string_view text)
    {
        JsonParser p{text};
        Json value;
        if (!p.Value(value, 0)) return std::nullopt;
        p.Space();
        if (p.m_pos != text.size()) return std::nullopt;
        return value;
    }

private:
    explicit JsonParser(std::string_view text) : m_text{text} {}

    bool AtEnd() const { return m_pos >= m_text.size(); }
    char Peek() const { return AtEnd() ? '\0' : m_text[m_pos]; }
    void Space()
    {
        while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
            ++m_pos;
        }
    }
    bool Literal(std::string_view word)
    {
        if (m_text.substr(m_pos, word.size()) != word) return false;
        m_pos += word.size();
        return true;
    }

    bool Value(Json& out, int depth)
    {
        if (depth > 64) return false;
        Space();
        const char c = Peek();
        if (c == '{') return Object(out, depth);
        if (c == '[') return Array(out, depth);
        if (c == '"') {
            out.kind = Json::Kind::String;
            return String(out.text);
        }
        if (c == 't' || c == 'f') {
            out.kind = Json::Kind::Bool;
            out.boolean = c == 't';
            return Literal(c == 't' ? "true" : "false");
        }
        if (c == 'n') {
            out.kind = Json::Kind::Null;
            return Literal("null");
        }
        out.kind = Json::Kind::Number;
        return Number(out.text);
    }

    bool Object(Json& out, int depth)
    {
        out.kind = Json::Kind::Object;
        ++m_pos;
        Space();
        if (Peek() == '}') {
            ++m_pos;
            return true;
        }
        for (;;) {
            Space();
            std::string key;
            if (Peek() != '"' || !String(key)) return false;
            Space();
            if (Peek() != ':') return false;
            ++m_pos;
            Json value;
            if (!Value(value, depth + 1)) return false;
            out.members.emplace_back(std::move(key), std::move(value));
            Space();
            if (Peek() == ',') {
                ++m_pos;
                continue;
            }
            if (Peek() != '}') return false;
            ++m_pos;
            return true;
        }
    }

    bool Array(Json& out, int depth)
    {
        out.kind = Json::Kind::Array;
        ++m_pos;
        Space();
        if (Peek() == ']') {
            ++m_pos;
            return true;
        }
        for (;;) {
            Json value;
            if (!Value(value, depth + 1)) return false;
            out.items.push_back(std::move(value));
            Space();
            if (Peek() == ',') {
                ++m_pos;
                continue;
            }
            if (Peek() != ']') return false;
            ++m_pos;
            return true;
        }
    }

    bool Number(std::string& out)
    {
        const size_t start = m_pos;
        const auto digits = [&] {
            const size_t from = m_pos;
            while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
                ++m_pos;
            }
            return m_pos > from;
        };
        if (Peek() == '-') ++m_pos;
        if (Peek() == '0') {
            ++m_pos;
        } else if (!digits()) {
            return false;
        }
        if (Peek() == '.') {
            ++m_pos;
            if (!digits()) return false;
        }
        if (Peek() == 'e' || Peek() == 'E') {
            ++m_pos;
            if (Peek() == '+' || Peek() == '-') ++m_pos;
            if (!digits()) return false;
        }
        out = std::string{m_text.substr(start, m_pos - start)};
        return true;
    }

    static void PutUtf8(std::string& out, uint32_t cp)
    {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    bool Hex4(uint32_t& out)
    {
        if (m_pos + 4 > m_text.size()) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_pos++];
            out <<= 4;
            if (c >= '0' && c <= '9') {
                out |= uint32_t(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                out |= uint32_t(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                out |= uint32_t(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    bool String(std::string& out)
    {
        ++m_pos; // opening quote
        for (;;) {
            if (AtEnd()) return false;
            const unsigned char c = static_cast<unsigned char>(m_text[m_pos]);
            if (c == '"') {
                ++m_pos;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                ++m_pos;
                const char e = Peek();
                ++m_pos;
                switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!Hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t low = 0;
                        if (!Literal("\\u") || !Hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                            return false;
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    PutUtf8(out, cp);
                    break;
                }
                default:
                    return false;
                }
                continue;
            }
            if (c < 0x80) {
                out += char(c);
                ++m_pos;
                continue;
            }
            // UTF-8: the lead byte's length, continuation bytes, no overlong forms.
            const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
            if (n == 0 || c > 0xF4 || m_pos + n > m_text.size()) return false;
            for (size_t i = 1; i < n; ++i) {
                if ((static_cast<unsigned char>(m_text[m_pos + i]) & 0xC0) != 0x80) return false;
            }
            out.append(m_text.substr(m_pos, n));
            m_pos += n;
        }
    }

    std::string_view m_text;
    size_t m_pos{0};
};

} // namespace tracering::test::ringdump

#endif // TRACERING_TESTS_E2E_RINGDUMP_JSON_H
