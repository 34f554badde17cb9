// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: `ringdump read` of a native capture file (tools/ringdump/capture_file.h).
// The input is a capture file. Before it is written to disk, every checksum in it is set to
// match (the header's and each frame's, where the sizes lead), so that mutations reach the
// parsing behind the checksums instead of stopping at them; a real capture, as the seeds
// are, is left as it is. Then the read command runs on it, printing JSON lines: CaptureReader
// (preamble, header, frames), EventSchema::Load_untrusted with the capture's own schema and
// catalogue, and EventFormatter on each event (fuzz/event_schema.cpp formats as text too).
//
// Besides ASan and UBSan: the command ends with success, a version mismatch or a corrupt
// capture, never another outcome.

#include "capture_file.h"

#include <cstdio>
#include <fstream>

#include "commands.h"
#include "util.h"

namespace tracering::fuzz {
namespace {

constexpr size_t PREAMBLE_SIZE = 20;

uint32_t GetLe32(const uint8_t* p)
{
    return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void PutLe32(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = uint8_t(v >> (8 * i));
}

//! Sets the header's and every frame's CRC-32 to that of the bytes it covers, following the
//! sizes as far as they stay inside the file.
void FixChecksums(std::vector<uint8_t>& file)
{
    if (file.size() < PREAMBLE_SIZE) return;
    const uint64_t header = GetLe32(file.data() + 12);
    if (PREAMBLE_SIZE + header > file.size()) return;
    PutLe32(file.data() + 16, ringdump::Crc32({file.data() + PREAMBLE_SIZE, size_t(header)}));
    uint64_t pos = PREAMBLE_SIZE + header;
    while (pos + ringdump::FRAME_HEADER_SIZE <= file.size()) {
        const uint64_t body = GetLe32(file.data() + pos);
        const uint64_t start = pos + ringdump::FRAME_HEADER_SIZE;
        if (start + body > file.size()) return;
        PutLe32(file.data() + pos + 4, ringdump::Crc32({file.data() + start, size_t(body)}));
        pos = start + body;
    }
}

struct Fixture {
    std::filesystem::path file = ScratchDirectory("capture_file") / "capture.trcap";
    std::FILE* null = std::fopen("/dev/null", "w");
};

void Run(std::span<const uint8_t> bytes)
{
    static Fixture* f = new Fixture;
    if (!f->null) Die("cannot open /dev/null");
    std::vector<uint8_t> file{bytes.begin(), bytes.end()};
    FixChecksums(file);
    {
        std::ofstream out{f->file, std::ios::binary | std::ios::trunc};
        out.write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));
        if (!out) Die("cannot write " + f->file.string());
    }
    const ringdump::Io io{.out = f->null, .err = f->null, .stop = nullptr};
    const int code = ringdump::Read({.file = f->file, .json = true}, io);
    if (code != ringdump::EXIT_OK && code != ringdump::EXIT_MISMATCH &&
        code != ringdump::EXIT_CORRUPT) {
        Die("ringdump read of a capture file ended with exit code " + std::to_string(code));
    }
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
