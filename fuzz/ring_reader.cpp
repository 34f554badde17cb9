// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: what a consumer makes of a segment written by a hostile or broken producer.
// Consumer::OpenFd validates the header and ring table, Consumer::OpenReader the reader line
// and cursor, and RingReader::Poll/Next every record header, length and type it reads from
// the ring. The segment is a real producer's (made once, with a lease on every ring), copied
// into a memfd; the input (fuzz/inputs.h, RingReaderInput) sets one ring's positions, reader
// line and data, and patches any word before the data areas.
//
// The input's records from read_pos up to its write_pos get their commit words (the reader
// reads only committed records); any other bytes, the header's commit_key included, may be
// patched to forge more.
//
// Besides ASan and UBSan, each delivered record is checked against the bytes the input put
// there: it lies inside the ring, within one capacity of the reader's start, and its header
// and payload are the ones at that position.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <cstring>
#include <unistd.h>

#include "inputs.h"
#include "util.h"
#include <sys/mman.h>

namespace tracering::fuzz {
namespace {

//! A memfd of `size` bytes mapped read-write.
struct MemoryFile {
    int fd{-1};
    uint8_t* data{nullptr};
    uint64_t size{0};

    MemoryFile(const char* name, uint64_t bytes) : size{bytes}
    {
        fd = ::memfd_create(name, MFD_CLOEXEC);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) Die("memfd_create failed");
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) Die("cannot map a memfd");
        data = static_cast<uint8_t*>(p);
    }
};

//! A real producer's segment with a lease on every ring, as a template, and the memfds the
//! consumer under test opens: the segment and the lease's cursor memory.
struct Fixture {
    std::unique_ptr<Producer> producer;
    std::unique_ptr<Lease> lease;
    std::vector<uint8_t> pristine;
    MemoryFile segment;
    MemoryFile cursors{"fuzz-cursors", LEASE_CURSORS_SIZE};
    uint64_t patchable{0}; //!< bytes before the first data area

    static std::vector<uint8_t> Copy(const Producer& producer)
    {
        const int fd = Must(producer.SegmentFd(), "the producer's segment");
        const off_t size = ::lseek(fd, 0, SEEK_END);
        void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
        if (size <= 0 || p == MAP_FAILED) Die("cannot map the producer's segment");
        const auto* bytes = static_cast<const uint8_t*>(p);
        std::vector<uint8_t> copy{bytes, bytes + size};
        ::munmap(p, static_cast<size_t>(size));
        ::close(fd);
        return copy;
    }

    static std::unique_ptr<Producer> MakeProducer()
    {
        ProducerOptions options;
        options.name = "fuzz-ring-reader-" + std::to_string(::getpid());
        options.capacities.fill(RING_READER_CAPACITY);
        options.install_global = false;
        return Must(Producer::Create(options), "Producer::Create");
    }

    static std::unique_ptr<Lease> MakeLease(Producer& producer)
    {
        std::vector<LeaseRequest> rings;
        for (uint32_t i = 0; i < SUBSYSTEM_COUNT; ++i)
            rings.push_back({static_cast<Subsystem>(i), {}});
        return Must(producer.Attach(rings), "Producer::Attach");
    }

    Fixture()
        : producer{MakeProducer()}, lease{MakeLease(*producer)}, pristine{Copy(*producer)},
          segment{"fuzz-segment", pristine.size()}
    {
        const auto* header = reinterpret_cast<const SegmentHeader*>(pristine.data());
        patchable = pristine.size();
        for (uint32_t i = 0; i < header->ring_count; ++i)
            patchable = std::min(patchable, header->rings[i].data_offset);
    }
};

Fixture& TheFixture()
{
    // Destroyed at exit (libFuzzer ends with exit()), so the producer removes its segment.
    static Fixture fixture;
    return fixture;
}

template <typename T>
T* At(uint8_t* base, uint64_t offset)
{
    return reinterpret_cast<T*>(base + offset);
}

//! Checks each record a reader delivers against the segment the input built.
class RecordChecker
{
public:
    RecordChecker(const uint8_t* image, const RingDescriptor& ring, const RingReader& reader,
                  uint64_t start)
        : m_image{image}, m_ring{ring}, m_reader{reader}, m_start{start}
    {
    }

    void operator()(const EventView& view)
    {
        // The reader has moved past this record, and only past padding, skipped records and
        // this one since its start: where it ends says where it began.
        const uint64_t end = m_start + m_reader.stats().bytes;
        const uint64_t record = AlignedRecordSize(uint64_t{view.size()} + RECORD_HEADER_SIZE);
        if (end - m_start > m_ring.capacity || record > end - m_start) {
            Die("a record ends at " + std::to_string(end) + ", more than a capacity after the " +
                "reader's start " + std::to_string(m_start));
        }
        if (uint64_t{view.size()} + RECORD_HEADER_SIZE > m_ring.max_record) {
            Die("a record of " + std::to_string(view.size()) + " payload bytes was delivered" +
                " from a ring whose records are at most " + std::to_string(m_ring.max_record));
        }
        const uint64_t offset = (end - record) & (m_ring.capacity - 1);
        if (offset + record > m_ring.capacity) Die("a delivered record crosses the ring's end");
        const uint8_t* at = m_image + m_ring.data_offset + offset;
        RecordHeader header;
        std::memcpy(&header, at, sizeof(header));
        if (header.type != view.raw_type() || header.seq != view.seq() ||
            view.timestamp_ns() < header.timestamp_ns || // raised to its predecessor's, if at all

            header.length != view.size() + RECORD_HEADER_SIZE ||
            std::memcmp(at + RECORD_HEADER_SIZE, view.data(), view.size()) != 0) {
            Die("the view of the record at ring offset " + std::to_string(offset) +
                " does not show the bytes there");
        }
        if (header.type == static_cast<uint16_t>(EventType::Padding)) {
            Die("a padding record was delivered");
        }
        ++m_delivered;
    }

    uint64_t delivered() const { return m_delivered; }

private:
    const uint8_t* m_image;
    const RingDescriptor& m_ring;
    const RingReader& m_reader;
    uint64_t m_start;
    uint64_t m_delivered{0};
};

void Run(std::span<const uint8_t> bytes)
{
    Fixture& f = TheFixture();
    const RingReaderInput input = RingReaderInput::Decode(bytes);
    uint8_t* image = f.segment.data;
    std::memcpy(image, f.pristine.data(), f.pristine.size());
    std::memset(f.cursors.data, 0, f.cursors.size);

    const auto* pristine = reinterpret_cast<const SegmentHeader*>(f.pristine.data());
    const uint32_t index = input.ring % pristine->ring_count;
    const RingDescriptor ring = pristine->rings[index];
    const ReaderGrant granted = f.lease->Grant(static_cast<Subsystem>(index));

    At<RingControl>(image, ring.control_offset)
        ->write_pos.store(input.write_pos, std::memory_order_relaxed);
    auto* line = At<ReaderControl>(image, ring.readers_offset) + granted.slot;
    const bool resumed = input.flags & RING_READER_RESUMED;
    line->attach_pos.store(input.read_pos + (resumed ? RECORD_ALIGN : 0),
                           std::memory_order_relaxed);
    line->attach_seq.store(input.attach_seq, std::memory_order_relaxed);
    line->event_mask.store(input.event_mask, std::memory_order_relaxed);
    if (input.flags & RING_READER_EXITED) {
        At<SegmentHeader>(image, 0)->producer_state.store(
            static_cast<uint32_t>(ProducerState::Exited), std::memory_order_relaxed);
    }
    (At<CursorSlot>(f.cursors.data, 0) + index)
        ->read_pos.store(input.read_pos, std::memory_order_relaxed);
    const uint64_t mask = ring.capacity - 1;
    const size_t size = std::min<size_t>(input.data.size(), ring.capacity);
    for (size_t i = 0; i < size;) {
        const uint64_t offset = (input.read_pos + i) & mask;
        const size_t run = std::min<size_t>(size - i, ring.capacity - offset);
        std::memcpy(image + ring.data_offset + offset, input.data.data() + i, run);
        i += run;
    }
    // Commit words for the chain of records from read_pos to write_pos, as a writer leaves
    // them (RecordHeader::commit); lengths and types are the input's.
    // Only from an 8-aligned read_pos (a reader refuses any other): from an unaligned one, a
    // commit word near the ring's end would be written past it, out of the memfd mapping.
    const uint64_t key = At<SegmentHeader>(image, 0)->commit_key;
    const uint64_t chain_end = input.read_pos % RECORD_ALIGN == 0 ? input.write_pos : 0;
    for (uint64_t pos = input.read_pos; pos < chain_end && pos - input.read_pos < ring.capacity;) {
        const uint64_t offset = pos & mask;
        const uint64_t left = ring.capacity - offset;
        uint8_t* at = image + ring.data_offset + offset;
        const uint64_t commit = pos ^ key;
        std::memcpy(at, &commit, sizeof(commit));
        if (left < RECORD_HEADER_SIZE) { // padding without a header: its commit word only
            pos += left;
            continue;
        }
        RecordHeader header;
        std::memcpy(&header, at, sizeof(header));
        pos += header.type == 0
                   ? left
                   : AlignedRecordSize(std::max<uint64_t>(header.length, RECORD_HEADER_SIZE));
    }
    for (const RingReaderPatch& patch : input.patches) {
        const uint64_t offset = (patch.offset % f.patchable) & ~uint64_t{7};
        std::memcpy(image + offset, &patch.value, sizeof(patch.value));
    }

    auto consumer = Consumer::OpenFd(f.segment.fd, "the fuzzed segment");
    if (!consumer) return;
    for (const RingInfo& info : (*consumer)->Rings()) {
        if (info.readers.size() > MAX_READERS) Die("more readers listed than a ring can have");
    }
    (void)(*consumer)->CheckProducer();
    ReaderGrant grant = granted;
    grant.cursors_fd = f.cursors.fd;
    auto reader = (*consumer)->OpenReader(SUBSYSTEM_NAMES[index], grant);
    if (!reader) return;
    // What the consumer validated, read after it did (nothing else writes the memfd).
    const RingDescriptor opened = At<SegmentHeader>(image, 0)->rings[index];
    RecordChecker check{image, opened, **reader, input.read_pos};
    // Every record takes at least RECORD_ALIGN bytes of at most one capacity.
    const uint64_t most = opened.capacity / RECORD_ALIGN;
    for (;;) {
        auto polled = (*reader)->Poll(check, 64);
        if (!polled || polled.value() == 0) break;
        if (check.delivered() > most) {
            Die("the reader delivered " + std::to_string(check.delivered()) +
                " records from at most " + std::to_string(opened.capacity) + " bytes");
        }
    }
    const RingInfo info = (*reader)->Info();
    if (info.capacity != opened.capacity) Die("RingReader::Info() changed the capacity");
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
