// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! ringdump end to end: the real binary against ringdump_test_producer, a real producer
//! process that fires known events when told to. Every expectation is written out here from
//! the known values, not computed with ringdump's own code.

#include <tracering/consumer.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "known_events.h"
#include "paths.h"
#include "subprocess.h"
#include "test_util.h"
#include <sys/mman.h>

namespace tracering::test::ringdump {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<std::string> ALL_RINGS{"net", "mempool", "utxocache", "validation",
                                         "coin_selection"};

//! Little-endian integers of a capture file, read here from the layout in
//! tools/ringdump/README.md, not with ringdump's reader.
uint64_t Le(const std::string& bytes, size_t at, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) {
        v |= uint64_t(uint8_t(bytes[at + i])) << (8 * i);
    }
    return v;
}

//! A native capture: its preamble and header, then its frames whole (size, CRC, body).
struct CaptureFrames {
    std::string head;
    std::vector<std::string> frames;
    std::vector<size_t> offsets; //!< byte offset of each frame in the file

    explicit CaptureFrames(const std::string& file)
    {
        const size_t header_end = 20 + Le(file, 12, 4);
        head = file.substr(0, header_end);
        for (size_t at = header_end; at + 8 <= file.size();) {
            const size_t size = 8 + Le(file, at, 4);
            offsets.push_back(at);
            frames.push_back(file.substr(at, size));
            at += size;
        }
    }
    //! The index of the event frame of ring index `ring` with seq `seq` (frames.size() if none).
    size_t Find(uint8_t ring, uint64_t seq) const
    {
        for (size_t i = 0; i < frames.size(); ++i) {
            if (frames[i][8] == 1 && uint8_t(frames[i][9]) == ring && Le(frames[i], 16, 8) == seq) {
                return i;
            }
        }
        return frames.size();
    }
    //! The file with frame `without` left out (if < frames.size()), and `extra` inserted
    //! before frame `at`.
    std::string Join(size_t without, size_t at = ~size_t{0}, const std::string& extra = "") const
    {
        std::string out = head;
        for (size_t i = 0; i < frames.size(); ++i) {
            if (i == at) out += extra;
            if (i != without) out += frames[i];
        }
        return out;
    }
};

// --- list -----------------------------------------------------------------------------------

TEST(RingdumpListTest, ShowsEveryRingAndWhoReadsIt)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    const Outcome text = RunRingdump({"list", "--control", producer.control()});
    ASSERT_EQ(text.code, 0) << text.err;
    std::string all;
    for (const std::string& line : text.lines) {
        all += line + "\n";
    }
    for (const std::string& ring : ALL_RINGS) {
        EXPECT_TRUE(std::regex_search(all, std::regex{"\n" + ring + " +off "})) << all;
    }
    EXPECT_TRUE(Contains(all, "events: flush, add, spent, uncache")) << all;

    Ringdump watch{{"watch", "--control", producer.control(), "--ring", "utxocache", "--event",
                    "net:misbehaving_connection", "--lossless"}};
    ASSERT_EQ(producer.WaitOn({"net", "utxocache"}), "on");
    const Outcome json = RunRingdump({"list", "--control", producer.control(), "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    ASSERT_EQ(json.lines.size(), ALL_RINGS.size());
    for (size_t i = 0; i < ALL_RINGS.size(); ++i) {
        const auto ring = JsonParser::Parse(json.lines[i]);
        ASSERT_TRUE(ring) << json.lines[i];
        EXPECT_EQ(ring->Get("ring")->text, ALL_RINGS[i]);
        const bool on = ALL_RINGS[i] == "net" || ALL_RINGS[i] == "utxocache";
        EXPECT_EQ(ring->Get("state")->text, on ? "on" : "off") << json.lines[i];
        EXPECT_EQ(ring->Get("reader_pid")->text, on ? std::to_string(watch.pid()) : "0");
        EXPECT_EQ(ring->Get("lossless")->boolean, on);
        for (const char* counter : {"capacity", "seq", "dropped_full", "dropped_too_big",
                                    "dropped_reader_reset", "dropped_timeout", "cursor_violations",
                                    "truncated", "unread_bytes", "reader_idle_ns"}) {
            ASSERT_NE(ring->Get(counter), nullptr) << counter;
            EXPECT_EQ(ring->Get(counter)->kind, Json::Kind::Number) << counter;
        }
    }
    const auto net = JsonParser::Parse(json.lines[0]);
    ASSERT_EQ(net->Get("events")->items.size(), 7u);
    EXPECT_EQ(net->Get("events")->items[5].text, "misbehaving_connection");
    ASSERT_EQ(net->Get("selected_events")->items.size(), 1u);
    EXPECT_EQ(net->Get("selected_events")->items[0].text, "misbehaving_connection");
    watch.Kill(SIGTERM);
    EXPECT_EQ(watch.Wait(), 0);
}

TEST(RingdumpListTest, ShowsTheClockAndAFallbackWithItsReason)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    const auto clock_of = [&](const std::string& json_line) -> std::unique_ptr<Json> {
        auto ring = JsonParser::Parse(json_line);
        if (!ring || !ring->Get("clock")) return nullptr;
        return std::make_unique<Json>(*ring->Get("clock"));
    };
    const Outcome before = RunRingdump({"list", "--control", producer.control()});
    ASSERT_EQ(before.code, 0) << before.err;
    ASSERT_GE(before.lines.size(), 2u);
    EXPECT_TRUE(Contains(before.lines[1], "clock (every ring): ")) << before.lines[1];

    const std::string fallback = producer.Command("clock-fallback");
    const Outcome text = RunRingdump({"list", "--control", producer.control()});
    ASSERT_EQ(text.code, 0) << text.err;
    const Outcome json = RunRingdump({"list", "--control", producer.control(), "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    ASSERT_EQ(json.lines.size(), ALL_RINGS.size());
    for (const std::string& line : json.lines) {
        const auto clock = clock_of(line);
        ASSERT_NE(clock, nullptr) << line;
        EXPECT_EQ(clock->Get("in_use")->text, "monotonic") << line;
        ASSERT_NE(clock->Get("reason_text"), nullptr) << line;
    }
    const auto clock = clock_of(json.lines[0]);
    if (fallback == "no-tsc") {
        // This host never used the TSC: the line says why instead.
        EXPECT_TRUE(Contains(text.lines[1], "clock (every ring): CLOCK_MONOTONIC ("))
            << text.lines[1];
        EXPECT_EQ(clock->Get("fallback_ns")->text, "0");
        GTEST_SKIP() << "the TSC is not used on this host: " << clock->Get("reason_text")->text;
    }
    ASSERT_EQ(fallback, "done monotonic");
    EXPECT_TRUE(Contains(text.lines[1], "fell back from the TSC")) << text.lines[1];
    EXPECT_TRUE(Contains(text.lines[1], ClockReasonText(ClockReason::ErrorBound))) << text.lines[1];
    EXPECT_EQ(clock->Get("timeline")->text, "tsc");
    EXPECT_EQ(clock->Get("reason")->text, "error_bound");
    EXPECT_NE(clock->Get("fallback_ns")->text, "0");
    EXPECT_NE(clock->Get("tsc_hz")->text, "0");
    EXPECT_EQ(clock->Get("error_bound_ns")->text, std::to_string(CLOCK_ERROR_BOUND_NS));
    // The injected error plus the real one, which is far smaller.
    EXPECT_GT(std::stoull(clock->Get("max_error_ns")->text), CLOCK_ERROR_BOUND_NS) << json.lines[0];
}

// --- watch ----------------------------------------------------------------------------------

TEST(RingdumpListTest, ControlMayComeBeforeTheCommand)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    const Outcome before = RunRingdump({"--control", producer.control(), "list", "--json"});
    ASSERT_EQ(before.code, 0) << before.err;
    const Outcome after = RunRingdump({"list", "--json", "--control", producer.control()});
    ASSERT_EQ(after.code, 0) << after.err;
    EXPECT_EQ(before.lines.size(), ALL_RINGS.size());
    EXPECT_EQ(before.lines.size(), after.lines.size());
    const Outcome equals = RunRingdump({"--control=" + producer.control(), "list"});
    EXPECT_EQ(equals.code, 0) << equals.err;
    const Outcome missing = RunRingdump({"--control", producer.control()});
    EXPECT_EQ(missing.code, 1);
    EXPECT_TRUE(Contains(missing.err, "no command given")) << missing.err;
}

TEST(RingdumpWatchTest, JsonLinesCarryEveryFieldOfAllTwentyEvents)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{
        {"watch", "--control", producer.control(), "--json", "--count", "20", "--lossless"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0) << watch.Stderr();
    ASSERT_EQ(lines.size(), ALL_EVENTS) << watch.Stderr();
    EXPECT_EQ(CheckAllEvents(lines), "");
    EXPECT_TRUE(Contains(watch.Stderr(), "20 events delivered, 0 lost")) << watch.Stderr();
}

TEST(RingdumpWatchTest, TextLinesNameEachEventAndItsFields)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--count", "20"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0);
    ASSERT_EQ(lines.size(), ALL_EVENTS);
    std::string all;
    for (const std::string& line : lines) {
        all += line + "\n";
    }
    EXPECT_TRUE(std::regex_search(
        all, std::regex{R"(\d\d:\d\d:\d\d\.\d{6} net:inbound_message seq=0 peer_id=7 )"
                        R"(addr="127\.0\.0\.1:18444" conn_type=inbound msg_type="ping" size=8 )"
                        R"(payload=01020304050607ff\n)"}))
        << all;
    // Long payloads are shortened for people; absent strings are left out.
    EXPECT_TRUE(Contains(all, "payload=" + Hex(Bytes(CF_PAYLOAD.begin(), CF_PAYLOAD.begin() + 32)) +
                                  "...(300 bytes)\n"))
        << all;
    EXPECT_TRUE(
        Contains(all, "mempool:added seq=0 txid=" + DisplayHex(TXID_A) + " vsize=141 fee=1410\n"))
        << all;
    EXPECT_TRUE(Contains(all, "conn_type=unknown network=9 time_established=-9223372036854775808 "
                              "conn_type_name=\"weird-type\"\n"))
        << all;
}

TEST(RingdumpWatchTest, CountStopsAfterExactlyThatManyEvents)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{
        {"watch", "--control", producer.control(), "--json", "--ring", "net", "--count", "3"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0);
    ASSERT_EQ(lines.size(), 3u);
    for (size_t i = 0; i < lines.size(); ++i) {
        const auto json = JsonParser::Parse(lines[i]);
        ASSERT_TRUE(json) << lines[i];
        EXPECT_EQ(json->Get("seq")->text, std::to_string(i));
    }
    EXPECT_TRUE(Contains(watch.Stderr(), "3 events delivered")) << watch.Stderr();
}

TEST(RingdumpWatchTest, EventFilterAndPeerFilterSelectEvents)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump by_event{{"watch", "--control", producer.control(), "--json", "--event", "flush",
                       "--event", "mempool:rejected", "--count", "2"}};
    ASSERT_EQ(producer.WaitOn({"utxocache", "mempool"}), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    std::set<std::string> keys;
    for (const std::string& line : by_event.ReadAll()) {
        keys.insert(KeyOf(*JsonParser::Parse(line)));
    }
    EXPECT_EQ(by_event.Wait(), 0);
    EXPECT_EQ(keys, (std::set<std::string>{"utxocache:flush", "mempool:rejected"}));
    ASSERT_EQ(producer.Command("wait-off utxocache mempool"), "off");

    Ringdump by_peer{
        {"watch", "--control", producer.control(), "--json", "--peer", "12", "--count", "1"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    const std::vector<std::string> lines = by_peer.ReadAll();
    EXPECT_EQ(by_peer.Wait(), 0);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(KeyOf(*JsonParser::Parse(lines[0])), "net:outbound_connection");
}

TEST(RingdumpWatchTest, EventsTooBigForTheRingShowAsALostLine)
{
    // 64 KiB rings take records up to 8 KiB; the producer drops bigger ones and counts them.
    TestProducer producer{64 << 10};
    ASSERT_TRUE(producer.ready());
    Ringdump watch{
        {"watch", "--control", producer.control(), "--json", "--ring", "net", "--count", "2"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    ASSERT_EQ(producer.Command("emit-big 3"), "done too_big=3");
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_TRUE(Contains(lines[0], R"("event":"inbound_message","seq":0,)")) << lines[0];
    EXPECT_EQ(lines[1], R"({"lost":3,"ring":"net","before_seq":4})");
    EXPECT_TRUE(Contains(lines[2], R"("event":"outbound_message","seq":4,)")) << lines[2];
    EXPECT_TRUE(Contains(watch.Stderr(), "2 events delivered, 3 lost (net 2/3)")) << watch.Stderr();
}

TEST(RingdumpWatchTest, ASlowReaderSeesEveryDroppedEventCounted)
{
    // A 4 KiB ring and a stopped reader: the producer drops what does not fit.
    TestProducer producer{4096};
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json", "--ring", "mempool"}};
    ASSERT_EQ(producer.WaitOn({"mempool"}), "on");
    const uint64_t dropped = FloodWhileStopped(producer, watch);
    ASSERT_FALSE(HasFailure()) << "the flood did not go as FloodWhileStopped expects";
    const uint64_t attempted = 300; // FloodWhileStopped's flood, all of it checked there

    // What fitted comes first. Once it is printed, ringdump has given the space back (a
    // reader releases before it prints), so the marker after it cannot be dropped, and its
    // arrival reveals the gap.
    uint64_t events = 0, lost = 0;
    std::vector<uint64_t> seqs;
    bool marker_sent = false;
    for (;;) {
        if (!marker_sent && events == attempted - dropped) {
            ASSERT_EQ(producer.Command("marker"), "done");
            marker_sent = true;
        }
        const std::string line = watch.ReadLine();
        ASSERT_FALSE(line.empty()) << "no marker; stderr: " << watch.Stderr();
        const auto json = JsonParser::Parse(line);
        ASSERT_TRUE(json) << line;
        if (const Json* n = json->Get("lost")) {
            lost += std::stoull(n->text);
            EXPECT_EQ(json->Keys(), (std::vector<std::string>{"lost", "ring", "before_seq"}));
            EXPECT_EQ(json->Get("before_seq")->text, "300");
            continue;
        }
        ++events;
        seqs.push_back(std::stoull(json->Get("seq")->text));
        if (json->Get("event")->text == "rejected") break;
    }
    EXPECT_EQ(lost, dropped);
    EXPECT_EQ(events + lost, attempted + 1);
    // Every event that fitted, in order, then the marker.
    for (size_t i = 0; i + 1 < seqs.size(); ++i) {
        EXPECT_EQ(seqs[i], i);
    }
    EXPECT_EQ(seqs.back(), 300u);
    watch.Kill(SIGINT);
    EXPECT_EQ(watch.Wait(), 0);
    EXPECT_TRUE(Contains(watch.Stderr(), "lost (mempool " + std::to_string(events) + "/" +
                                             std::to_string(dropped) + ")"))
        << watch.Stderr();
}

TEST(RingdumpWatchTest, DropsAfterTheLastReadAreALostLineWhenTheProducerExits)
{
    TestProducer producer{4096};
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json", "--ring", "mempool"}};
    ASSERT_EQ(producer.WaitOn({"mempool"}), "on");
    const uint64_t dropped = FloodWhileStopped(producer, watch);
    // The producer exits with the drops last: no later event reveals the gap.
    producer.process().CloseStdin();
    ASSERT_EQ(producer.process().Wait(), 0);
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0) << watch.Stderr();
    const uint64_t delivered = 300 - dropped;
    ASSERT_EQ(lines.size(), delivered + 1);
    EXPECT_EQ(lines.back(),
              R"({"lost":)" + std::to_string(dropped) + R"(,"ring":"mempool","before_seq":300})");
    EXPECT_TRUE(Contains(watch.Stderr(), std::to_string(delivered) + " events delivered, " +
                                             std::to_string(dropped) + " lost (mempool " +
                                             std::to_string(delivered) + "/" +
                                             std::to_string(dropped) + ")"))
        << watch.Stderr();

    // The same in the text format.
    TestProducer second{4096};
    ASSERT_TRUE(second.ready());
    Ringdump text{{"watch", "--control", second.control(), "--ring", "mempool"}};
    ASSERT_EQ(second.WaitOn({"mempool"}), "on");
    const uint64_t text_dropped = FloodWhileStopped(second, text);
    second.process().CloseStdin();
    ASSERT_EQ(second.process().Wait(), 0);
    const std::vector<std::string> text_lines = text.ReadAll();
    EXPECT_EQ(text.Wait(), 0) << text.Stderr();
    ASSERT_FALSE(text_lines.empty());
    EXPECT_EQ(text_lines.back(), "-- lost " + std::to_string(text_dropped) +
                                     " events of ring mempool before seq 300 --");
}

TEST(RingdumpWatchTest, AReaderDetachedByTheProducerExitsWithCode5AndCountsWhatItMissed)
{
    TestProducer producer{4096};
    ASSERT_TRUE(producer.ready());
    Ringdump fast{{"watch", "--control", producer.control(), "--json", "--ring", "mempool"},
                  /*stdout_to_file=*/true};
    Ringdump slow{{"watch", "--control", producer.control(), "--json", "--ring", "mempool"}};
    ASSERT_EQ(producer.Command("wait-readers mempool 2"), "readers 2");
    // Once it printed an event, the slow one reads its ring (it is past attaching).
    ASSERT_EQ(producer.Command("marker"), "done");
    const std::string marker = slow.ReadLine();
    ASSERT_TRUE(Contains(marker, R"("event":"rejected","seq":0,)")) << marker;
    ASSERT_TRUE(Suspend(slow.pid()));
    // The stopped reader keeps the ring full while the other reads: after a second of that
    // the producer detaches it.
    std::string flood;
    bool evicted = false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!evicted && std::chrono::steady_clock::now() < deadline) {
        flood = producer.Command("flood 20");
        const Outcome list = RunRingdump({"list", "--control", producer.control(), "--json"});
        for (const std::string& line : list.lines) {
            evicted |= Contains(line, R"({"ring":"mempool",)") &&
                       Contains(line, R"("readers_evicted":1,)");
        }
    }
    ASSERT_TRUE(evicted) << "the stopped reader was never detached";
    uint64_t attempted = 0, full = 0;
    ASSERT_EQ(std::sscanf(flood.c_str(), "done full=%" SCNu64 " seq=%" SCNu64, &full, &attempted),
              2)
        << flood;

    slow.Kill(SIGCONT);
    const std::vector<std::string> lines = slow.ReadAll();
    EXPECT_EQ(slow.Wait(), 5) << slow.Stderr();
    EXPECT_TRUE(Contains(slow.Stderr(), "ringdump: the reader of ring 'mempool' was detached by "
                                        "the producer (it kept the ring full while another "
                                        "reader waited; read faster or ask for fewer events)"))
        << slow.Stderr();
    // It read only the marker before it was stopped; everything the ring attempted after it,
    // until the reader found itself detached, is lost to it, as a line and in the summary.
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], R"({"lost":)" + std::to_string(attempted - 1) +
                            R"(,"ring":"mempool","before_seq":)" + std::to_string(attempted) + "}");
    EXPECT_TRUE(Contains(slow.Stderr(), "1 events delivered, " + std::to_string(attempted - 1) +
                                            " lost (mempool 1/" + std::to_string(attempted - 1) +
                                            ")"))
        << slow.Stderr();

    // The other reader lost what the stopped one made the ring drop, and every event of the
    // ring is accounted for in its summary too.
    fast.Kill(SIGINT);
    EXPECT_EQ(fast.Wait(), 0);
    uint64_t delivered = 0, lost = 0;
    ASSERT_EQ(std::sscanf(fast.Stderr().c_str(), "ringdump: %" SCNu64 " events delivered, %" SCNu64,
                          &delivered, &lost),
              2)
        << fast.Stderr();
    EXPECT_EQ(delivered + lost, attempted) << fast.Stderr();
}

TEST(RingdumpWatchTest, SigintEndsWatchCleanlyAfterPrintingWhatWasRead)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    watch.Kill(SIGINT);
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0);
    EXPECT_EQ(lines.size(), ALL_EVENTS);
    EXPECT_EQ(CheckAllEvents(lines), "");
    EXPECT_TRUE(Contains(watch.Stderr(), "20 events delivered, 0 lost (net 7/0, mempool 4/0, "
                                         "utxocache 4/0, validation 1/0, coin_selection 4/0)"))
        << watch.Stderr();
    // The lease ended with the process: the rings are off again.
    EXPECT_EQ(producer.Command("wait-off net mempool utxocache validation coin_selection"), "off");
}

TEST(RingdumpWatchTest, ASecondSignalRightAfterTheFirstDoesNotCutTheCleanEndShort)
{
    // timeout(1) signals its child and then the child's process group: the same signal twice
    // at once. The second must not kill watch before it printed what it read.
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    ASSERT_TRUE(SignalTaken(watch.pid(), SIGINT));
    watch.Kill(SIGINT);
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0) << watch.Stderr();
    EXPECT_EQ(CheckAllEvents(lines), "");
    EXPECT_TRUE(Contains(watch.Stderr(), "20 events delivered, 0 lost")) << watch.Stderr();
}

TEST(RingdumpWatchTest, PeerIsRefusedWhenNoSelectedEventHasAPeer)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    const Outcome out = RunRingdump({"watch", "--control", producer.control(), "--peer", "5",
                                     "--ring", "mempool", "--ring", "validation"});
    EXPECT_EQ(out.code, 1) << out.err;
    EXPECT_TRUE(Contains(out.err, "--peer: no event selected (of mempool, validation) has a "
                                  "peer_id field"))
        << out.err;
    EXPECT_TRUE(out.lines.empty());
}

TEST(RingdumpWatchTest, AProducerThatDiesEndsWatchWithCode2AfterEveryEventItWrote)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    // Once watch printed a first round of events, it reads every ring.
    ASSERT_EQ(producer.Command("emit-all"), "done");
    std::vector<std::string> first;
    for (size_t i = 0; i < ALL_EVENTS; ++i)
        first.push_back(watch.ReadLine());
    ASSERT_EQ(CheckAllEvents(first), "");

    // Stopped, so the next round is still in the rings when the producer dies.
    ASSERT_TRUE(Suspend(watch.pid()));
    ASSERT_EQ(producer.Command("emit-all"), "done");
    producer.process().Kill(SIGKILL);
    // Not reaped yet: a zombie producer is as gone as a reaped one.
    watch.Kill(SIGCONT);
    const std::vector<std::string> rest = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 2) << watch.Stderr();
    ASSERT_EQ(rest.size(), ALL_EVENTS);
    std::set<std::string> events;
    for (const std::string& line : rest) {
        const auto json = JsonParser::Parse(line);
        ASSERT_TRUE(json) << line;
        events.insert(KeyOf(*json));
    }
    EXPECT_EQ(events.size(), ALL_EVENTS);
    EXPECT_TRUE(Contains(watch.Stderr(), "is gone without shutting down")) << watch.Stderr();
    EXPECT_TRUE(Contains(watch.Stderr(), "40 events delivered, 0 lost")) << watch.Stderr();
}

TEST(RingdumpWatchTest, PayloadLimitMarksTruncatedEvents)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump watch{{"watch", "--control", producer.control(), "--json", "--event",
                    "outbound_message", "--payload-limit", "4", "--count", "1"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    const std::vector<std::string> lines = watch.ReadAll();
    EXPECT_EQ(watch.Wait(), 0);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(Contains(lines[0], R"("size":300,"payload":")" +
                                       Hex(Bytes(CF_PAYLOAD.begin(), CF_PAYLOAD.begin() + 4)) +
                                       R"(","conn_type_name":null,"truncated":true})"))
        << lines[0];
}

// --- stats ----------------------------------------------------------------------------------

TEST(RingdumpStatsTest, ReportsEachIntervalAttachedOrNot)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    const auto start = std::chrono::steady_clock::now();
    const Outcome attached = RunRingdump(
        {"stats", "--control", producer.control(), "--json", "--interval", "0.1", "--count", "2"});
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
    ASSERT_EQ(attached.code, 0) << attached.err;
    ASSERT_EQ(attached.lines.size(), 2 * ALL_RINGS.size());
    for (size_t i = 0; i < attached.lines.size(); ++i) {
        const auto json = JsonParser::Parse(attached.lines[i]);
        ASSERT_TRUE(json) << attached.lines[i];
        EXPECT_EQ(json->Get("ring")->text, ALL_RINGS[i % ALL_RINGS.size()]);
        for (const char* key : {"events_per_s", "bytes_per_s", "delivered", "lost", "seq",
                                "dropped_full", "dropped_too_big", "dropped_reader_reset",
                                "dropped_timeout", "cursor_violations", "truncated"}) {
            EXPECT_NE(json->Get(key), nullptr) << key << " in " << attached.lines[i];
        }
    }

    Ringdump reader{{"watch", "--control", producer.control(), "--ring", "mempool", "--json"}};
    ASSERT_EQ(producer.WaitOn({"mempool"}), "on");
    ASSERT_EQ(producer.Command("flood 100"), "done full=0 seq=100");
    const Outcome watching =
        RunRingdump({"stats", "--control", producer.control(), "--json", "--no-attach", "--ring",
                     "mempool", "--interval", "0.05", "--count", "3"});
    ASSERT_EQ(watching.code, 0) << watching.err;
    ASSERT_EQ(watching.lines.size(), 3u);
    const auto last = JsonParser::Parse(watching.lines.back());
    ASSERT_TRUE(last);
    EXPECT_EQ(last->Get("ring")->text, "mempool");
    EXPECT_EQ(last->Get("state")->text, "on");
    EXPECT_EQ(last->Get("reader_pid")->text, std::to_string(reader.pid()));
    EXPECT_EQ(last->Get("seq")->text, "100");
    reader.Kill(SIGINT);
    EXPECT_EQ(reader.Wait(), 0);

    const Outcome text = RunRingdump({"stats", "--control", producer.control(), "--ring",
                                      "validation", "--interval", "0.05", "--count", "1"});
    ASSERT_EQ(text.code, 0) << text.err;
    ASSERT_EQ(text.lines.size(), 3u);
    EXPECT_TRUE(Contains(text.lines[0], "clock (every ring): ")) << text.lines[0];
    EXPECT_TRUE(Contains(text.lines[1], "events/s")) << text.lines[1];
    EXPECT_TRUE(Contains(text.lines[2], "validation")) << text.lines[2];

    // --ring is repeatable, as for watch (scripts/demo.sh gives it twice).
    const Outcome two =
        RunRingdump({"stats", "--control", producer.control(), "--no-attach", "--ring", "net",
                     "--ring", "validation", "--interval", "0.05", "--count", "1"});
    ASSERT_EQ(two.code, 0) << two.err;
    ASSERT_EQ(two.lines.size(), 4u);
    EXPECT_TRUE(Contains(two.lines[2], "net")) << two.lines[2];
    EXPECT_TRUE(Contains(two.lines[3], "validation")) << two.lines[3];
}

TEST(RingdumpStatsTest, ALastReportCountsDropsAfterTheLastRead)
{
    TestProducer producer{4096};
    ASSERT_TRUE(producer.ready());
    // No report before the end: the last one is the only one.
    Ringdump stats{{"stats", "--control", producer.control(), "--json", "--ring", "mempool",
                    "--interval", "3600"}};
    ASSERT_EQ(producer.WaitOn({"mempool"}), "on");
    const uint64_t dropped = FloodWhileStopped(producer, stats);
    stats.Kill(SIGINT);
    const std::vector<std::string> lines = stats.ReadAll();
    EXPECT_EQ(stats.Wait(), 0) << stats.Stderr();
    ASSERT_EQ(lines.size(), 1u);
    const auto json = JsonParser::Parse(lines[0]);
    ASSERT_TRUE(json) << lines[0];
    EXPECT_EQ(json->Get("ring")->text, "mempool");
    EXPECT_EQ(json->Get("delivered")->text, std::to_string(300 - dropped));
    EXPECT_EQ(json->Get("lost")->text, std::to_string(dropped));
    EXPECT_EQ(json->Get("dropped_full")->text, std::to_string(dropped));
}

// --- capture and read -----------------------------------------------------------------------

TEST(RingdumpCaptureTest, NativeCaptureReadsBackAsWatchPrintedIt)
{
    std::vector<std::string> watched;
    {
        TestProducer producer;
        ASSERT_TRUE(producer.ready());
        Ringdump watch{{"watch", "--control", producer.control(), "--json", "--count", "20"}};
        ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
        ASSERT_EQ(producer.Command("emit-all"), "done");
        watched = watch.ReadAll();
        ASSERT_EQ(watch.Wait(), 0);
    }
    TempDir dir;
    {
        // The same events from a fresh producer, so their seq numbers are the same too.
        TestProducer producer;
        ASSERT_TRUE(producer.ready());
        Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                          "--format", "native", "--count", "20", "--lossless"}};
        ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
        ASSERT_EQ(producer.Command("emit-all"), "done");
        EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    }
    const fs::path file = dir.path() / "capture.trcap";
    const Outcome read = RunRingdump({"read", file.string(), "--json"});
    ASSERT_EQ(read.code, 0) << read.err;
    ASSERT_EQ(read.lines.size(), ALL_EVENTS);
    EXPECT_EQ(CheckAllEvents(read.lines), "");
    // Line for line what watch printed (rings may interleave differently; timestamps differ).
    std::multiset<std::string> a, b;
    for (const std::string& line : watched) {
        a.insert(WithoutTimestamp(line));
    }
    for (const std::string& line : read.lines) {
        b.insert(WithoutTimestamp(line));
    }
    EXPECT_EQ(a, b);

    const Outcome text = RunRingdump({"read", file.string()});
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_EQ(text.lines.size(), ALL_EVENTS);
}

TEST(RingdumpCaptureTest, LossesAreKeptInTheCapture)
{
    TestProducer producer{64 << 10};
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                      "--format", "native", "--ring", "net", "--count", "2"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    ASSERT_EQ(producer.Command("emit-big 2"), "done too_big=2");
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    const Outcome read = RunRingdump({"read", (dir.path() / "capture.trcap").string(), "--json"});
    ASSERT_EQ(read.code, 0) << read.err;
    ASSERT_EQ(read.lines.size(), 3u);
    EXPECT_EQ(read.lines[1], R"({"lost":2,"ring":"net","before_seq":3})");
}

TEST(RingdumpCaptureTest, SigintAndDurationEndACaptureWithCompleteFiles)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    Ringdump capture{{"capture", "--control", producer.control(), "--out",
                      (dir.path() / "a").string(), "--format", "native"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    capture.Kill(SIGINT);
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    const Outcome read =
        RunRingdump({"read", (dir.path() / "a" / "capture.trcap").string(), "--json"});
    ASSERT_EQ(read.code, 0) << read.err;
    EXPECT_EQ(CheckAllEvents(read.lines), "");

    ASSERT_EQ(producer.Command("wait-off net mempool utxocache validation coin_selection"), "off");
    const Outcome quiet =
        RunRingdump({"capture", "--control", producer.control(), "--out",
                     (dir.path() / "b").string(), "--format", "native", "--duration", "0.2"});
    ASSERT_EQ(quiet.code, 0) << quiet.err;
    const Outcome empty = RunRingdump({"read", (dir.path() / "b" / "capture.trcap").string()});
    EXPECT_EQ(empty.code, 0) << empty.err;
    EXPECT_TRUE(empty.lines.empty());
}

TEST(RingdumpCaptureTest, SighupEndsACaptureWithCompleteFilesAsSigintDoes)
{
    // A hang-up: the terminal or ssh session of the capture went away.
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                      "--format", "native"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    capture.Kill(SIGHUP);
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    const Outcome read = RunRingdump({"read", (dir.path() / "capture.trcap").string(), "--json"});
    ASSERT_EQ(read.code, 0) << read.err;
    EXPECT_EQ(CheckAllEvents(read.lines), "");
}

//! One -capturemessages record, as Bitcoin Core's CaptureMessageToFile writes it.
std::string CaptureRecord(uint64_t time_us, const std::string& type, const Bytes& payload)
{
    std::string out;
    for (int i = 0; i < 8; ++i) {
        out += char(uint8_t(time_us >> (8 * i)));
    }
    out += type;
    out.append(12 - type.size(), '\0');
    for (int i = 0; i < 4; ++i) {
        out += char(uint8_t(payload.size() >> (8 * i)));
    }
    out.append(payload.begin(), payload.end());
    return out;
}

TEST(RingdumpCaptureTest, MessageCaptureFilesMatchBitcoinCoreByteForByte)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    const std::vector<Message> messages = Messages();
    // Both formats at once: the native file tells the test each message's timestamp.
    Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                      "--format", "native,capturemessage", "--ring", "net", "--lossless", "--count",
                      std::to_string(messages.size())}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    auto consumer = Consumer::Open(producer.name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    const int64_t clock_offset_ns = (*consumer)->info().clock_offset_ns;
    ASSERT_EQ(producer.Command("emit-messages"), "done");
    ASSERT_EQ(capture.Wait(), 0) << capture.Stderr();
    EXPECT_TRUE(Contains(capture.Stderr(), "wrote 5 received and 4 sent messages of 2 peer(s)"))
        << capture.Stderr();

    const Outcome read = RunRingdump({"read", (dir.path() / "capture.trcap").string(), "--json"});
    ASSERT_EQ(read.code, 0) << read.err;
    ASSERT_EQ(read.lines.size(), messages.size());
    std::map<fs::path, std::string> expected;
    for (size_t i = 0; i < messages.size(); ++i) {
        const Message& m = messages[i];
        const auto json = JsonParser::Parse(read.lines[i]);
        ASSERT_TRUE(json);
        ASSERT_EQ(json->Get("msg_type")->text, m.msg_type);
        // Both files map timestamps with the offset ringdump measured; the producer's own,
        // from its creation, agrees as long as nobody stepped the system time.
        const uint64_t ts_ns = std::stoull(json->Get("ts_ns")->text);
        const uint64_t unix_ns = std::stoull(json->Get("unix_ns")->text);
        EXPECT_LT(std::llabs(int64_t(unix_ns - ts_ns) - clock_offset_ns), 20'000'000);
        const uint64_t time_us = unix_ns / 1000;
        const std::string folder = m.addr == "[::1]:8333" ? "[__1]_8333" : "127.0.0.1_18444";
        expected[dir.path() / folder / (m.inbound ? "msgs_recv.dat" : "msgs_sent.dat")] +=
            CaptureRecord(time_us, m.msg_type, m.payload);
    }
    std::set<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
        if (entry.is_regular_file() && entry.path().filename() != "capture.trcap") {
            files.insert(entry.path());
        }
    }
    ASSERT_EQ(files.size(), expected.size());
    for (const auto& [path, bytes] : expected) {
        ASSERT_TRUE(files.count(path)) << path;
        const std::string actual = ReadFile(path);
        EXPECT_EQ(actual.size(), bytes.size()) << path;
        EXPECT_TRUE(actual == bytes) << path << " differs from Bitcoin Core's layout";
    }
}

TEST(RingdumpCaptureTest, MessageCaptureAloneTakesOnlyMessagesAndNeverAppends)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    {
        Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                          "--format", "capturemessage", "--lossless", "--count", "2"}};
        ASSERT_EQ(producer.WaitOn({"net"}), "on");
        ASSERT_EQ(producer.Command("emit-all"), "done"); // two messages among 20 events
        ASSERT_EQ(capture.Wait(), 0) << capture.Stderr();
    }
    const fs::path recv_path = dir.path() / "127.0.0.1_18444" / "msgs_recv.dat";
    const fs::path sent_path = dir.path() / "[2001_db8__1]_8333" / "msgs_sent.dat";
    const std::string recv = ReadFile(recv_path);
    const std::string sent = ReadFile(sent_path);
    ASSERT_EQ(recv.size(), 24 + PING_NONCE.size());
    ASSERT_EQ(sent.size(), 24 + CF_PAYLOAD.size());
    EXPECT_EQ(recv.substr(8, 16), std::string("ping\0\0\0\0\0\0\0\0\x08\0\0\0", 16));
    EXPECT_EQ(sent.substr(8, 16), std::string("getcfcheckpt\x2c\x01\0\0", 16));

    // A second capture into the same directory is refused before it attaches: unlike the
    // node, ringdump never appends to a file it did not create.
    const Outcome again =
        RunRingdump({"capture", "--control", producer.control(), "--out", dir.path().string(),
                     "--format", "capturemessage", "--count", "2"});
    EXPECT_EQ(again.code, 1);
    EXPECT_TRUE(Contains(again.err, "ringdump: --out " + dir.path().string() + " already holds '"))
        << again.err;
    EXPECT_TRUE(Contains(again.err, "give a new or empty directory")) << again.err;
    EXPECT_EQ(ReadFile(recv_path), recv);
    EXPECT_EQ(ReadFile(sent_path), sent);
}

TEST(RingdumpCaptureTest, AnOutDirectoryOthersCanWriteIsRefused)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    const fs::path open = dir.path() / "open";
    fs::create_directories(open);
    ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
    for (const char* format : {"native", "capturemessage"}) {
        const Outcome out = RunRingdump({"capture", "--control", producer.control(), "--out",
                                         open.string(), "--format", format, "--count", "1"});
        EXPECT_EQ(out.code, 1) << format;
        EXPECT_TRUE(Contains(out.err, "ringdump: --out " + open.string() +
                                          " can be written by every user (mode 0777), who could "
                                          "plant files or links in it for the capture to write "
                                          "into; give a directory only you can write (chmod "
                                          "go-w, or mode 0700)\n"))
            << out.err;
        EXPECT_TRUE(fs::is_empty(open)) << format;
    }
    // Refused before attaching: the rings were never turned on.
    const Outcome list = RunRingdump({"list", "--control", producer.control(), "--json"});
    for (const std::string& line : list.lines) {
        EXPECT_TRUE(Contains(line, "\"state\":\"off\"")) << line;
    }
    // The same folder once only its owner can write it.
    ASSERT_EQ(::chmod(open.c_str(), 0755), 0);
    Ringdump capture{{"capture", "--control", producer.control(), "--out", open.string(),
                      "--format", "native", "--count", "20", "--lossless"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
}

TEST(RingdumpCaptureTest, APlantedFolderOrLinkIsNeverWrittenThrough)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    const fs::path target = dir.path() / "victim.txt";
    WriteFile(target, "the victim's file\n");
    const auto plant = [&](const fs::path& out, bool theirs) {
        const fs::path peer = out / "127.0.0.1_18444";
        fs::create_directories(peer);
        fs::create_symlink(target, peer / "msgs_recv.dat");
        if (theirs) {
            // Made by someone else: another user's folder with their link in it.
            ASSERT_EQ(::lchown((peer / "msgs_recv.dat").c_str(), 65534, 65534), 0);
            ASSERT_EQ(::chown(peer.c_str(), 65534, 65534), 0);
            ASSERT_EQ(::chmod(peer.c_str(), 0777), 0);
        }
    };

    // Planted before the capture: refused before attaching.
    for (const bool theirs : {false, true}) {
        const fs::path out = dir.path() / (theirs ? "theirs" : "before");
        fs::create_directories(out);
        plant(out, theirs);
        const Outcome refused =
            RunRingdump({"capture", "--control", producer.control(), "--out", out.string(),
                         "--format", "capturemessage", "--count", "1"});
        EXPECT_EQ(refused.code, 1);
        EXPECT_TRUE(Contains(refused.err, "ringdump: --out " + out.string() +
                                              " already holds '127.0.0.1_18444', and --format "
                                              "capturemessage writes only into folders it creates"))
            << refused.err;
    }

    // Planted while the capture runs (only its own user, root here, can write its folder):
    // the folder is not the capture's, so it stops with an error instead of following it.
    const fs::path out = dir.path() / "during";
    fs::create_directories(out);
    Ringdump capture{{"capture", "--control", producer.control(), "--out", out.string(), "--format",
                      "capturemessage", "--lossless"}};
    ASSERT_EQ(producer.WaitOn({"net"}), "on");
    plant(out, false);
    ASSERT_EQ(producer.Command("emit-messages"), "done");
    EXPECT_EQ(capture.Wait(), 2);
    EXPECT_TRUE(
        Contains(capture.Stderr(), "ringdump: " + (out / "127.0.0.1_18444").string() +
                                       " already exists, and ringdump writes only into folders it "
                                       "creates; give a new or empty --out directory\n"))
        << capture.Stderr();

    EXPECT_EQ(ReadFile(target), "the victim's file\n");
    EXPECT_TRUE(fs::is_symlink(out / "127.0.0.1_18444" / "msgs_recv.dat"));
}

TEST(RingdumpCaptureTest, AKilledCaptureReadsAsCutShortWithEveryEventItHeld)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    const fs::path file = dir.path() / "c" / "capture.trcap";
    Ringdump capture{{"capture", "--control", producer.control(), "--out",
                      (dir.path() / "c").string(), "--format", "native"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    // Once the rings are empty again, ringdump has written what it read to the file.
    Outcome read;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        read = RunRingdump({"read", file.string(), "--json"});
    } while (read.lines.size() < ALL_EVENTS && std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(read.lines.size(), ALL_EVENTS) << read.err;
    capture.Kill(SIGKILL);
    EXPECT_EQ(capture.Wait(), 128 + SIGKILL);

    read = RunRingdump({"read", file.string(), "--json"});
    EXPECT_EQ(read.code, 6);
    EXPECT_EQ(CheckAllEvents(read.lines), "");
    EXPECT_TRUE(Contains(read.err, "ringdump: " + file.string() +
                                       ": the capture was cut short at byte " +
                                       std::to_string(fs::file_size(file)) +
                                       ": it has no end record (ringdump was killed, or the disk "
                                       "filled up), so what came after its 20 events is "
                                       "missing; those are intact\n"))
        << read.err;
}

TEST(RingdumpCaptureTest, DropsAfterTheLastReadAreInTheCaptureAndItsTotals)
{
    TestProducer producer{4096};
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                      "--format", "native", "--ring", "mempool"}};
    ASSERT_EQ(producer.WaitOn({"mempool"}), "on");
    const uint64_t dropped = FloodWhileStopped(producer, capture);
    // No event follows the drops to reveal them: the capture's end must.
    capture.Kill(SIGINT);
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    const uint64_t delivered = 300 - dropped;
    EXPECT_TRUE(Contains(capture.Stderr(), std::to_string(delivered) + " events delivered, " +
                                               std::to_string(dropped) + " lost (mempool " +
                                               std::to_string(delivered) + "/" +
                                               std::to_string(dropped) + ")"))
        << capture.Stderr();

    const Outcome read = RunRingdump({"read", (dir.path() / "capture.trcap").string(), "--json"});
    EXPECT_EQ(read.code, 0) << read.err;
    ASSERT_EQ(read.lines.size(), delivered + 1);
    for (uint64_t i = 0; i < delivered; ++i) {
        ASSERT_TRUE(Contains(read.lines[i], ",\"seq\":" + std::to_string(i) + ",")) << i;
    }
    EXPECT_EQ(read.lines.back(),
              R"({"lost":)" + std::to_string(dropped) + R"(,"ring":"mempool","before_seq":300})");
}

TEST(RingdumpCaptureTest, ACaptureOfSomeEventsBesideAReaderOfAllReadsAsComplete)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    // The other reader turns every net event on: the capture's reader passes over the six it
    // did not ask for, and the file must account for their seqs without calling them lost.
    Ringdump all{{"watch", "--control", producer.control(), "--json", "--ring", "net"},
                 /*stdout_to_file=*/true};
    Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                      "--format", "native", "--event", "net:closed_connection", "--lossless"}};
    ASSERT_EQ(producer.Command("wait-readers net 2"), "readers 2");
    ASSERT_EQ(producer.Command("emit-all"), "done"); // net seqs 0-6; closed_connection is 6
    ASSERT_EQ(producer.Command("emit-all"), "done"); // and 13
    capture.Kill(SIGINT);
    EXPECT_EQ(capture.Wait(), 0) << capture.Stderr();
    EXPECT_TRUE(Contains(capture.Stderr(), "2 events delivered, 0 lost (net 2/0)"))
        << capture.Stderr();
    const Outcome read = RunRingdump({"read", (dir.path() / "capture.trcap").string(), "--json"});
    EXPECT_EQ(read.code, 0) << read.err;
    ASSERT_EQ(read.lines.size(), 2u);
    EXPECT_TRUE(Contains(read.lines[0], R"("event":"closed_connection","seq":6,)"))
        << read.lines[0];
    EXPECT_TRUE(Contains(read.lines[1], R"("event":"closed_connection","seq":13,)"))
        << read.lines[1];
    all.Kill(SIGINT);
    EXPECT_EQ(all.Wait(), 0);
}

TEST(RingdumpReadTest, DamagedCaptureFilesAreClearErrors)
{
    TempDir dir;
    {
        TestProducer producer;
        ASSERT_TRUE(producer.ready());
        Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                          "--format", "native", "--count", "20"}};
        ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
        ASSERT_EQ(producer.Command("emit-all"), "done");
        ASSERT_EQ(capture.Wait(), 0);
    }
    const std::string good = ReadFile(dir.path() / "capture.trcap");
    ASSERT_GT(good.size(), 1000u);
    const auto read = [&](const std::string& bytes) {
        const fs::path path = dir.path() / "damaged.trcap";
        WriteFile(path, bytes);
        return RunRingdump({"read", path.string(), "--json"});
    };

    // The end record: frame header, kind and padding, end time, frame count, ring count,
    // three counters per ring.
    const size_t end_frame = 8 + 1 + 7 + 8 + 8 + 2 + 24 * ALL_RINGS.size();

    // Cut inside the last event: ringdump writes whole frames, so this is damage. The
    // events before it are printed, then the error.
    const Outcome cut = read(good.substr(0, good.size() - end_frame - 10));
    EXPECT_EQ(cut.code, 4);
    EXPECT_EQ(cut.lines.size(), ALL_EVENTS - 1);
    EXPECT_TRUE(Contains(cut.err, "truncated")) << cut.err;

    // Cut exactly before the end record, as a killed ringdump leaves it: every event is
    // printed, then it says the capture is incomplete, with its own exit code.
    const size_t unfinished_size = good.size() - end_frame;
    const Outcome unfinished = read(good.substr(0, unfinished_size));
    EXPECT_EQ(unfinished.code, 6);
    EXPECT_EQ(CheckAllEvents(unfinished.lines), "");
    EXPECT_TRUE(Contains(unfinished.err,
                         "ringdump: " + (dir.path() / "damaged.trcap").string() +
                             ": the capture was cut short at byte " +
                             std::to_string(unfinished_size) +
                             ": it has no end record (ringdump was killed, or the disk filled "
                             "up), so what came after its 20 events is missing; those are "
                             "intact\n"))
        << unfinished.err;

    // A flipped bit in the last event's payload, and one in the header's schema.
    for (const size_t at : {good.size() - end_frame - 1, size_t{200}}) {
        std::string flipped = good;
        flipped[at] ^= 0x10;
        const Outcome damaged = read(flipped);
        EXPECT_EQ(damaged.code, 4);
        EXPECT_TRUE(Contains(damaged.err, "fails its checksum (the file is damaged)"))
            << damaged.err;
    }

    const Outcome garbage = read("this is not a capture file at all, just some text\n");
    EXPECT_EQ(garbage.code, 4);
    EXPECT_TRUE(Contains(garbage.err, "not a ringdump capture file")) << garbage.err;

    EXPECT_EQ(read(good + "trailing").code, 4);

    std::string newer = good;
    newer[8] = 3; // format version
    const Outcome version = read(newer);
    EXPECT_EQ(version.code, 3);
    EXPECT_TRUE(Contains(version.err, "capture format version 3, this ringdump reads version 2"))
        << version.err;
    // Version 1 files cannot prove themselves complete: refused, not read unchecked.
    std::string older = good;
    older[8] = 1;
    const Outcome old_version = read(older);
    EXPECT_EQ(old_version.code, 3);
    EXPECT_TRUE(Contains(old_version.err, "capture format version 1, this ringdump reads "
                                          "version 2; read it with the ringdump that wrote it"))
        << old_version.err;

    const Outcome missing = RunRingdump({"read", (dir.path() / "nothing.trcap").string()});
    EXPECT_EQ(missing.code, 2);
    EXPECT_TRUE(Contains(missing.err, "cannot open")) << missing.err;
}

TEST(RingdumpReadTest, ACaptureWithAFrameCutOutAddedOrReplayedIsCorrupt)
{
    TempDir dir;
    {
        TestProducer producer;
        ASSERT_TRUE(producer.ready());
        Ringdump capture{{"capture", "--control", producer.control(), "--out", dir.path().string(),
                          "--format", "native", "--count", "20", "--lossless"}};
        ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
        ASSERT_EQ(producer.Command("emit-all"), "done");
        ASSERT_EQ(capture.Wait(), 0) << capture.Stderr();
    }
    const std::string good = ReadFile(dir.path() / "capture.trcap");
    const CaptureFrames c{good};
    ASSERT_EQ(c.frames.size(), ALL_EVENTS + 1); // and the end record
    const fs::path path = dir.path() / "altered.trcap";
    const auto read = [&](const std::string& bytes) {
        WriteFile(path, bytes);
        return RunRingdump({"read", path.string(), "--json"});
    };
    const auto error = [&](const std::string& what) {
        return "ringdump: " + path.string() + ": " + what + "\n";
    };
    // Ring 0 is net (seqs 0-6), ring 3 validation (one event, seq 0).
    const size_t net2 = c.Find(0, 2), net3 = c.Find(0, 3), net4 = c.Find(0, 4);
    const size_t net5 = c.Find(0, 5), net6 = c.Find(0, 6), validation0 = c.Find(3, 0);
    ASSERT_LT(std::max({net2, net3, net4, net5, net6, validation0}), c.frames.size());

    // A whole event frame cut out, every checksum intact: the next frame of its ring does
    // not follow, and nothing recorded as lost explains it.
    const Outcome cut = read(c.Join(net3));
    EXPECT_EQ(cut.code, 4);
    const size_t net4_now = c.offsets[net4] - c.frames[net3].size();
    EXPECT_TRUE(
        Contains(cut.err, error("ring 'net': the event frame at byte " + std::to_string(net4_now) +
                                " has seq 4, but since seq 2 in the frame at byte " +
                                std::to_string(c.offsets[net2]) +
                                " it records 0 events lost and 0 skipped: 1 event "
                                "missing from the capture (frames were cut out; the "
                                "file was altered)")))
        << cut.err;
    EXPECT_EQ(cut.lines.size(), net3); // the events before it

    // The only event of a ring cut out: the end record's totals do not match.
    const Outcome cut_last = read(c.Join(validation0));
    EXPECT_EQ(cut_last.code, 4);
    const size_t end_now = c.offsets.back() - c.frames[validation0].size();
    EXPECT_TRUE(Contains(
        cut_last.err, error("ring 'validation': the end record at byte " + std::to_string(end_now) +
                            " counts 1 event delivered, the file holds 0 (no frame of the "
                            "ring): frames were cut out or added (the file was altered)")))
        << cut_last.err;
    EXPECT_EQ(cut_last.lines.size(), ALL_EVENTS - 1);

    // An earlier frame replayed further on: its seq goes back.
    const Outcome replayed = read(c.Join(c.frames.size(), net6, c.frames[c.Find(0, 1)]));
    EXPECT_EQ(replayed.code, 4);
    EXPECT_TRUE(
        Contains(replayed.err,
                 error("ring 'net': the event frame at byte " + std::to_string(c.offsets[net6]) +
                       " has seq 1, which is not after seq 5 in the frame at byte " +
                       std::to_string(c.offsets[net5]) +
                       ": a frame was replayed, duplicated or moved (the file was "
                       "altered)")))
        << replayed.err;
    EXPECT_EQ(replayed.lines.size(), net6);

    // A frame written twice.
    const Outcome duplicated = read(c.Join(c.frames.size(), net3, c.frames[net2]));
    EXPECT_EQ(duplicated.code, 4);
    EXPECT_TRUE(
        Contains(duplicated.err,
                 error("ring 'net': the event frame at byte " + std::to_string(c.offsets[net3]) +
                       " has seq 2, which is not after seq 2 in the frame at byte " +
                       std::to_string(c.offsets[net2]) +
                       ": a frame was replayed, duplicated or moved (the file was "
                       "altered)")))
        << duplicated.err;
    EXPECT_EQ(duplicated.lines.size(), net3);

    // The untouched file still reads whole.
    const Outcome whole = read(good);
    EXPECT_EQ(whole.code, 0) << whole.err;
    EXPECT_EQ(CheckAllEvents(whole.lines), "");
}

// --- command line and errors ----------------------------------------------------------------

TEST(RingdumpCommandLineTest, HelpForEveryCommand)
{
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                                 {"list", "--help"},
                                                 {"watch", "--help"},
                                                 {"stats", "--help"},
                                                 {"capture", "--help"},
                                                 {"read", "--help"}}) {
        const Outcome help = RunRingdump(args);
        EXPECT_EQ(help.code, 0) << args[0];
        std::string all;
        for (const std::string& line : help.lines) {
            all += line + "\n";
        }
        EXPECT_TRUE(Contains(all, "Usage: ringdump")) << all;
        EXPECT_TRUE(Contains(all, "Exit codes:")) << all;
        EXPECT_TRUE(Contains(all, "  4  corrupt data")) << all;
    }
}

TEST(RingdumpCommandLineTest, BadCommandLinesExitWithCode1AndSayWhy)
{
    const std::string control = "/tmp/" + Unique("none") + ".sock";
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{}, "Usage: ringdump [--control PATH] <command>"},
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{"watch", "--control", control, "--bogus"}, "unknown option --bogus"},
        {{"watch"}, "--control PATH is required"},
        {{"watch", "--control", control, "--count", "many"}, "--count needs a whole number"},
        {{"watch", "--control", control, "--count"}, "--count needs a value"},
        {{"watch", "--control", control, "--json=yes"}, "--json takes no value"},
        {{"watch", "--control", control, "--ring", "p2p"}, "unknown ring 'p2p'"},
        {{"watch", "--control", control, "--event", "nonsense"},
         "unknown event 'nonsense'; the events are: net:inbound_message"},
        {{"stats", "--control", control, "--interval", "0"}, "--interval must be at least 0.001 s"},
        {{"stats", "--control", control, "--interval", "1e-10"},
         "--interval must be at least 0.001 s"},
        {{"watch", "--control", control, "--ring", "--json"},
         "--ring needs a value, not the option --json"},
        {{"watch", "--control", control, "--count", "1", "--count", "2"}, "--count is given twice"},
        {{"--control", control, "watch", "--control", "/tmp/other.sock"},
         "--control is given twice"},
        {{"watch", "--control", control, "--lossless", "--lossless-wait", "4294967296"},
         "--lossless-wait must be 0 to 10000 ms (the producer's limit), not 4294967296"},
        {{"capture", "--control", control, "--out", "/tmp/x", "--format", "pcap"},
         "unknown --format 'pcap'"},
        {{"capture", "--control", control, "--out", "/tmp/x"}, "--format native or"},
        {{"capture", "--control", control, "--format", "native"}, "--out DIR is required"},
        {{"capture", "--control", control, "--out", "/tmp/x", "--format", "capturemessage",
          "--payload-limit", "100"},
         "--payload-limit cannot be used with --format capturemessage"},
        {{"capture", "--control", control, "--out", "/tmp/x", "--format", "native", "--count", "1",
          "--duration", "1"},
         "not both"},
        {{"capture", "--control", control, "--out", "/tmp/x", "--format", "capturemessage",
          "--ring", "mempool"},
         "has neither"},
        {{"read"}, "read needs a capture FILE"},
        {{"list", "--control", "/tmp/" + std::string(120, 'x')},
         "--control is 125 bytes long; a unix socket path may have at most 107"},
        {{"--control", "/tmp/" + std::string(120, 'x'), "watch"},
         "--control is 125 bytes long; a unix socket path may have at most 107"},
    };
    for (const auto& [args, message] : cases) {
        const Outcome out = RunRingdump(args);
        std::string joined;
        for (const std::string& a : args) {
            joined += a + " ";
        }
        EXPECT_EQ(out.code, 1) << joined << "\n" << out.err;
        EXPECT_TRUE(Contains(out.err, message)) << joined << "\n" << out.err;
        EXPECT_TRUE(out.lines.empty()) << joined;
    }
}

TEST(RingdumpCommandLineTest, AnOutputThatCannotBeWrittenExitsWithCode2)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                                 {"capture", "--help"},
                                                 {"list", "--control", producer.control()}}) {
        const Outcome out = RunWithFullStdout(paths::RINGDUMP, args);
        EXPECT_EQ(out.code, 2) << args[0] << ": " << out.err;
        EXPECT_TRUE(Contains(out.err, "ringdump: cannot write the output to stdout")) << out.err;
    }
}

TEST(RingdumpCommandLineTest, NoProducerAtThePathExitsWithCode2)
{
    const std::string control = "/tmp/" + Unique("absent") + ".sock";
    TempDir dir;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"list", "--control", control},
          {"watch", "--control", control},
          {"stats", "--control", control},
          {"capture", "--control", control, "--out", dir.path().string(), "--format", "native"}}) {
        const Outcome out = RunRingdump(args);
        EXPECT_EQ(out.code, 2) << args[0] << ": " << out.err;
        EXPECT_TRUE(Contains(out.err, "ringdump: no control socket at " + control)) << out.err;
        EXPECT_TRUE(Contains(out.err, "is the producer running")) << out.err;
    }
    EXPECT_FALSE(fs::exists(dir.path() / "capture.trcap"));
}

TEST(RingdumpCommandLineTest, TwoWatchersOfOneRingBothGetEveryEventAndListShowsBoth)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    Ringdump first{{"watch", "--json", "--control", producer.control(), "--ring", "net"},
                   /*stdout_to_file=*/true};
    Ringdump second{{"watch", "--json", "--control", producer.control(), "--ring", "net"},
                    /*stdout_to_file=*/true};
    ASSERT_EQ(producer.Command("wait-readers net 2"), "readers 2");
    const Outcome list = RunRingdump({"list", "--json", "--control", producer.control()});
    EXPECT_EQ(list.code, 0);
    std::string listed;
    for (const std::string& line : list.lines)
        listed += line + "\n";
    for (const Ringdump* r : {&first, &second}) {
        EXPECT_TRUE(Contains(listed, "{\"pid\":" + std::to_string(r->pid()) + ",")) << listed;
    }
    ASSERT_EQ(producer.Command("emit-messages"), "done");
    std::vector<std::vector<std::string>> outputs;
    for (Ringdump* r : {&first, &second}) {
        r->Kill(SIGINT);
        EXPECT_EQ(r->Wait(), 0);
        outputs.push_back(r->Stdout());
    }
    EXPECT_FALSE(outputs[0].empty());
    // The same events, in the same order, each whole; only the UNIX times may differ, as
    // each process measures its own clock offset.
    const std::regex unix_time{"\"unix_ns\":[0-9]+"};
    ASSERT_EQ(outputs[0].size(), outputs[1].size());
    for (size_t i = 0; i < outputs[0].size(); ++i) {
        EXPECT_TRUE(std::regex_replace(outputs[0][i], unix_time, "") ==
                    std::regex_replace(outputs[1][i], unix_time, ""))
            << "line " << i << " differs";
    }
}

TEST(RingdumpCommandLineTest, AnExistingCaptureIsNeverOverwritten)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    TempDir dir;
    WriteFile(dir.path() / "capture.trcap", "earlier");
    const Outcome out = RunRingdump({"capture", "--control", producer.control(), "--out",
                                     dir.path().string(), "--format", "native", "--count", "1"});
    EXPECT_EQ(out.code, 1);
    EXPECT_TRUE(Contains(out.err, "already exists")) << out.err;
    EXPECT_EQ(ReadFile(dir.path() / "capture.trcap"), "earlier");
}

// --- tracering-demo watch, a consumer beside ringdump --------------------------------------

TEST(DemoWatchTest, CountsOnlyWhatTheRingsAttemptedSinceItAttached)
{
    TestProducer producer;
    ASSERT_TRUE(producer.ready());
    // Another reader, and events the rings attempted before the demo attached: none of them
    // is the demo's to deliver, nor lost to it.
    Ringdump first{{"watch", "--control", producer.control(), "--json"}};
    ASSERT_EQ(producer.WaitOn(ALL_RINGS), "on");
    ASSERT_EQ(producer.Command("emit-all"), "done");
    Subprocess demo{{paths::DEMO, "watch", "--control", producer.control(), "--seconds", "60"}};
    ASSERT_TRUE(Contains(demo.ReadLine(), "watch: attached every ring")) << first.Stderr();
    ASSERT_EQ(producer.Command("emit-all"), "done");
    // Stopped, it reads what the rings attempted before the signal, then sums up.
    demo.Kill(SIGINT);
    std::string out;
    for (std::string line = demo.ReadLine(); !line.empty(); line = demo.ReadLine()) {
        out += line + "\n";
    }
    EXPECT_EQ(demo.Wait(), 0) << out;
    for (const auto& [ring, count] :
         std::vector<std::pair<std::string, int>>{{"net", 7},
                                                  {"mempool", 4},
                                                  {"utxocache", 4},
                                                  {"validation", 1},
                                                  {"coin_selection", 4}}) {
        const std::regex summary{ring + " +attempted +" + std::to_string(count) + " +delivered +" +
                                 std::to_string(count) + " +lost 0 "};
        EXPECT_TRUE(std::regex_search(out, summary)) << ring << ":\n" << out;
    }
    first.Kill(SIGINT);
    EXPECT_EQ(first.ReadAll().size(), 2 * ALL_EVENTS);
    EXPECT_EQ(first.Wait(), 0) << first.Stderr();
}

TEST(DemoWatchTest, HelpSaysTheSegmentModeOfGroupAndAnUnwritableOutputFails)
{
    Subprocess help{{paths::DEMO, "--help"}};
    // Past its empty lines (ReadLine returns "" for them, and at once at the end).
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text += help.ReadLine() + "\n";
    }
    EXPECT_EQ(help.Wait(), 0);
    EXPECT_TRUE(Contains(text, "segment 0440, control socket 0660")) << text;
    const Outcome full = RunWithFullStdout(paths::DEMO, {"--help"});
    EXPECT_EQ(full.code, 2) << full.err;
    EXPECT_TRUE(Contains(full.err, "tracering-demo: cannot write the output to stdout"))
        << full.err;
}

} // namespace
} // namespace tracering::test::ringdump
