// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! Producers and consumers built from different schema versions (tests/evolution/
//! evolution.cmake: v2 adds net.InboundMessage.evolution_note and net:evolution_probe),
//! each a real process talking over the real control socket and shared memory.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "paths.h"
#include "subprocess.h"
#include "test_util.h"

namespace tracering {
namespace {

using test::Contains;

//! An evolution_producer_vN process, ready for commands.
class ProducerProcess
{
public:
    explicit ProducerProcess(const char* binary)
        : m_name{test::UniqueName("evolution")}, m_control{"/tmp/" + m_name + ".sock"},
          m_process{{binary, "--control", m_control, "--name", m_name}}
    {
    }
    ~ProducerProcess()
    {
        m_process.CloseStdin();
        if (m_process.Wait() != 0) test::RemoveProducerLeftovers(m_name, m_control);
    }
    bool Ready() { return m_process.started() && m_process.ReadLine() == "ready"; }
    std::string Command(const std::string& line)
    {
        m_process.WriteLine(line);
        return m_process.ReadLine();
    }
    const std::string& control() const { return m_control; }

private:
    std::string m_name;
    std::string m_control;
    test::Subprocess m_process;
};

//! Every line a process prints until it exits, and its exit code.
struct Output {
    std::vector<std::string> lines;
    int code{-1};
};

//! Starts `argv`, tells `producer` to emit once the net ring has a reader (after
//! `attached_line` when the program prints one), and collects everything the program prints.
Output RunAgainst(ProducerProcess& producer, const std::vector<std::string>& argv,
                  const std::string& attached_line = "")
{
    Output run;
    test::Subprocess child{argv};
    if (!child.started()) return run;
    if (!attached_line.empty()) {
        const std::string first = child.ReadLine();
        if (first != attached_line) {
            run.lines.push_back(first);
            run.code = child.Wait();
            return run;
        }
    }
    EXPECT_EQ(producer.Command("wait-on"), "on");
    EXPECT_EQ(producer.Command("emit"), "done");
    for (std::string line = child.ReadLine(); !line.empty(); line = child.ReadLine()) {
        run.lines.push_back(line);
    }
    run.code = child.Wait();
    return run;
}

std::string Joined(const std::vector<std::string>& lines)
{
    std::string out;
    for (const std::string& l : lines) {
        out += l + "\n";
    }
    return out;
}

TEST(SchemaEvolutionTest, OldConsumerReadsANewerProducerAndCountsItsNewEvent)
{
    ProducerProcess producer{test::paths::EVOLUTION_PRODUCER_V2};
    ASSERT_TRUE(producer.Ready());
    const Output run =
        RunAgainst(producer, {test::paths::EVOLUTION_CONSUMER_V1, producer.control()}, "attached");
    EXPECT_EQ(run.code, 0) << Joined(run.lines);
    // The fields it knows, the new field ignored; the new event delivered, flagged, counted.
    EXPECT_EQ(run.lines, (std::vector<std::string>{
                             "message peer=7 msg=ping note=n/a",
                             "unknown type=63",
                             "message peer=8 msg=pong note=n/a",
                             "end delivered=3 lost=0 unknown=1",
                         }));
}

TEST(SchemaEvolutionTest, NewConsumerReadsAnOlderProducerWithDefaultsForNewFields)
{
    ProducerProcess producer{test::paths::EVOLUTION_PRODUCER_V1};
    ASSERT_TRUE(producer.Ready());
    const Output run =
        RunAgainst(producer, {test::paths::EVOLUTION_CONSUMER_V2, producer.control()}, "attached");
    EXPECT_EQ(run.code, 0) << Joined(run.lines);
    EXPECT_EQ(run.lines, (std::vector<std::string>{
                             "message peer=7 msg=ping note=-",
                             "message peer=8 msg=pong note=-",
                             "end delivered=2 lost=0 unknown=0",
                         }));
}

TEST(SchemaEvolutionTest, SameVersionsAgreeOnEverything)
{
    ProducerProcess producer{test::paths::EVOLUTION_PRODUCER_V2};
    ASSERT_TRUE(producer.Ready());
    const Output run =
        RunAgainst(producer, {test::paths::EVOLUTION_CONSUMER_V2, producer.control()}, "attached");
    EXPECT_EQ(run.code, 0) << Joined(run.lines);
    EXPECT_EQ(run.lines, (std::vector<std::string>{
                             "message peer=7 msg=ping note=from v2",
                             "other type=63",
                             "message peer=8 msg=pong note=end",
                             "end delivered=3 lost=0 unknown=0",
                         }));
}

TEST(SchemaEvolutionTest, AnEventTheOlderProducerLacksIsRefusedByNameWithItsEvents)
{
    ProducerProcess producer{test::paths::EVOLUTION_PRODUCER_V1};
    ASSERT_TRUE(producer.Ready());
    test::Subprocess child{
        {test::paths::EVOLUTION_CONSUMER_V2, producer.control(), "evolution_probe"}};
    const std::string line = child.ReadLine();
    EXPECT_EQ(child.Wait(), 2);
    EXPECT_TRUE(Contains(line, "error ring 'net' of this producer has no event 'evolution_probe'"))
        << line;
    EXPECT_TRUE(Contains(line, "its events are: inbound_message, outbound_message")) << line;
}

TEST(SchemaEvolutionTest, OlderRingdumpPrintsEveryFieldAndEventOfANewerProducer)
{
    ProducerProcess producer{test::paths::EVOLUTION_PRODUCER_V2};
    ASSERT_TRUE(producer.Ready());
    // ringdump is built from v1; the segment's schema tells it about v2's additions.
    const Output run =
        RunAgainst(producer, {test::paths::RINGDUMP, "watch", "--control", producer.control(),
                              "--ring", "net", "--json", "--count", "3"});
    ASSERT_EQ(run.code, 0) << Joined(run.lines);
    ASSERT_EQ(run.lines.size(), 3u) << Joined(run.lines);
    EXPECT_TRUE(Contains(run.lines[0], "\"msg_type\":\"ping\"")) << run.lines[0];
    EXPECT_TRUE(Contains(run.lines[0], "\"evolution_note\":\"from v2\"")) << run.lines[0];
    EXPECT_TRUE(Contains(run.lines[1], "\"event\":\"evolution_probe\"")) << run.lines[1];
    EXPECT_TRUE(Contains(run.lines[1], "\"peer_id\":7,\"note\":\"probe\"")) << run.lines[1];
    EXPECT_TRUE(Contains(run.lines[2], "\"evolution_note\":\"end\"")) << run.lines[2];

    // It lists the new event with the ring's, and attaches to it by name.
    test::Subprocess list{{test::paths::RINGDUMP, "list", "--control", producer.control()}};
    std::string listed;
    for (std::string line = list.ReadLine(); !line.empty(); line = list.ReadLine()) {
        listed += line + "\n";
    }
    EXPECT_EQ(list.Wait(), 0);
    EXPECT_TRUE(Contains(listed, "evolution_probe")) << listed;

    const Output only =
        RunAgainst(producer, {test::paths::RINGDUMP, "watch", "--control", producer.control(),
                              "--event", "net:evolution_probe", "--json", "--count", "1"});
    ASSERT_EQ(only.code, 0) << Joined(only.lines);
    ASSERT_EQ(only.lines.size(), 1u) << Joined(only.lines);
    EXPECT_TRUE(Contains(only.lines[0], "\"event\":\"evolution_probe\"")) << only.lines[0];
}

} // namespace
} // namespace tracering
