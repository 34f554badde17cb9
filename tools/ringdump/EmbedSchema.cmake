# Writes OUTPUT, a C++ source defining the bytes of INPUT (the binary event schema) as
# tracering::ringdump::EMBEDDED_SCHEMA. Run with cmake -P at build time.

file(READ ${INPUT} _hex HEX)
string(LENGTH "${_hex}" _hex_length)
math(EXPR _size "${_hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n    " _bytes "${_bytes}")
file(WRITE ${OUTPUT}
"// Generated from ringdump_events.bfbs by EmbedSchema.cmake. Do not edit.\n"
"#include \"event_schema.h\"\n\n"
"namespace tracering::ringdump {\n\n"
"// Aligned like the FlatBuffers it holds, so reflection reads scalars in place.\n"
"alignas(16) static const uint8_t EMBEDDED_SCHEMA_BYTES[${_size}] = {\n    ${_bytes}\n};\n\n"
"const std::span<const uint8_t> EMBEDDED_SCHEMA{EMBEDDED_SCHEMA_BYTES, ${_size}};\n\n"
"} // namespace tracering::ringdump\n")
