// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "harness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "json.h"
#include "paths.h"
#include "test_util.h"

namespace tracering::test::ringdump {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Unique(const std::string& what) { return UniqueName("rd-" + what); }

std::string ReadFile(const fs::path& path)
{
    std::ifstream in{path, std::ios::binary};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void WriteFile(const fs::path& path, const std::string& bytes)
{
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out << bytes;
}

TempDir::TempDir() : m_path{fs::temp_directory_path() / Unique("dir")}
{
    fs::create_directories(m_path);
}

TempDir::~TempDir() { fs::remove_all(m_path); }

TestProducer::TestProducer(uint64_t capacity)
    : m_name{Unique("p")}, m_control{"/tmp/" + m_name + ".sock"}
{
    std::vector<std::string> argv{test::paths::RINGDUMP_TEST_PRODUCER, "--control", m_control,
                                  "--name", m_name};
    if (capacity) {
        argv.push_back("--capacity");
        argv.push_back(std::to_string(capacity));
    }
    m_process = std::make_unique<Subprocess>(argv);
    m_ready = m_process->ReadLine() == "ready";
}

TestProducer::~TestProducer()
{
    m_process->CloseStdin();
    if (m_process->Wait(5000) != 0) {
        m_process->Kill(SIGKILL);
        m_process->Wait(5000);
        RemoveProducerLeftovers(m_name, m_control);
    }
}

std::string TestProducer::Command(const std::string& line)
{
    m_process->WriteLine(line);
    return m_process->ReadLine(15000);
}

std::string TestProducer::WaitOn(const std::vector<std::string>& rings)
{
    std::string line = "wait-on";
    for (const std::string& r : rings) {
        line += " " + r;
    }
    return Command(line);
}

Ringdump::Ringdump(const std::vector<std::string>& args, bool stdout_to_file)
    : m_stderr{fs::temp_directory_path() / (Unique("err") + ".txt")},
      m_stdout{stdout_to_file ? fs::temp_directory_path() / (Unique("out") + ".txt") : ""}
{
    // The shell only redirects, then becomes ringdump (exec keeps the pid).
    std::vector<std::string> argv{
        "/bin/sh",
        "-c",
        "e=$1; o=$2; shift 2; if [ -n \"$o\" ]; then exec \"$0\" \"$@\" 2>\"$e\" >\"$o\"; "
        "else exec \"$0\" \"$@\" 2>\"$e\"; fi",
        test::paths::RINGDUMP,
        m_stderr.string(),
        m_stdout.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    m_process = std::make_unique<Subprocess>(argv);
}

Ringdump::~Ringdump()
{
    m_process.reset();
    fs::remove(m_stderr);
    if (!m_stdout.empty()) fs::remove(m_stdout);
}

std::vector<std::string> Ringdump::Stdout() const
{
    std::vector<std::string> lines;
    std::istringstream in{ReadFile(m_stdout)};
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> Ringdump::ReadAll(int timeout_ms)
{
    std::vector<std::string> lines;
    for (std::string line; !(line = m_process->ReadLine(timeout_ms)).empty();) {
        lines.push_back(line);
    }
    return lines;
}

Outcome RunRingdump(const std::vector<std::string>& args)
{
    Ringdump ringdump{args, /*stdout_to_file=*/true};
    Outcome out;
    out.code = ringdump.Wait();
    out.lines = ringdump.Stdout();
    out.err = ringdump.Stderr();
    return out;
}

std::string Hex(const Bytes& bytes)
{
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

//! The usual display of a hash: its bytes last to first.
std::string DisplayHex(const Hash& hash) { return Hex(Bytes(hash.rbegin(), hash.rend())); }

//! The line with its ts_ns and unix_ns (which the test cannot know) set to 0.
std::string WithoutTimestamp(const std::string& line)
{
    static const std::regex TS{"\"ts_ns\":[0-9]+,\"unix_ns\":[0-9]+"};
    return std::regex_replace(line, TS, "\"ts_ns\":0");
}

//! What watch --json must print for each of the 20 known events, by "ring:event", with
//! ts_ns 0.
std::map<std::string, std::string> ExpectedEventLines()
{
    const std::string A = DisplayHex(TXID_A), B = DisplayHex(TXID_B), C = DisplayHex(TXID_C);
    std::map<std::string, std::string> e;
    e["net:inbound_message"] =
        R"({"ring":"net","event":"inbound_message","seq":0,"ts_ns":0,"peer_id":7,)"
        R"("addr":"127.0.0.1:18444","conn_type":"inbound","msg_type":"ping","size":8,)"
        R"("payload":"01020304050607ff","conn_type_name":null})";
    e["net:outbound_message"] =
        R"({"ring":"net","event":"outbound_message","seq":1,"ts_ns":0,"peer_id":-3,)"
        R"("addr":"[2001:db8::1]:8333","conn_type":"outbound-full-relay",)"
        R"("msg_type":"getcfcheckpt","size":300,"payload":")" +
        Hex(CF_PAYLOAD) + R"(","conn_type_name":null})";
    e["net:inbound_connection"] =
        R"({"ring":"net","event":"inbound_connection","seq":2,"ts_ns":0,"peer_id":11,)"
        R"("addr":"10.0.0.2:50000","conn_type":"inbound","network":"ipv4",)"
        R"("existing_connections":3,"conn_type_name":null})";
    e["net:outbound_connection"] =
        R"({"ring":"net","event":"outbound_connection","seq":3,"ts_ns":0,"peer_id":12,)"
        R"("addr":")" +
        ONION_ADDR +
        R"(","conn_type":"block-relay-only","network":"onion","existing_connections":8,)"
        R"("conn_type_name":null})";
    e["net:evicted_inbound_connection"] =
        R"({"ring":"net","event":"evicted_inbound_connection","seq":4,"ts_ns":0,)"
        R"("peer_id":13,"addr":"1.2.3.4:5","conn_type":"inbound","network":"ipv6",)"
        R"("time_established":-1,"conn_type_name":null})";
    e["net:misbehaving_connection"] =
        R"({"ring":"net","event":"misbehaving_connection","seq":5,"ts_ns":0,"peer_id":14,)"
        "\"message\":\"bad \\\"headers\\\"\\\\ \\n\\t\\u0001 caf\xc3\xa9 \xe2\x9c\x93 \\ufffd!\"}";
    e["net:closed_connection"] =
        R"({"ring":"net","event":"closed_connection","seq":6,"ts_ns":0,)"
        R"("peer_id":9223372036854775807,"addr":"127.0.0.1:1234","conn_type":"unknown",)"
        R"("network":9,"time_established":-9223372036854775808,)"
        R"("conn_type_name":"weird-type"})";
    e["validation:block_connected"] =
        R"({"ring":"validation","event":"block_connected","seq":0,"ts_ns":0,"block_hash":")" +
        DisplayHex(BLOCK_HASH) +
        R"(","height":413567,"transactions":1557,"inputs":4887,"sigops":12345678901,)"
        R"("duration_ns":-987654321})";
    e["utxocache:flush"] =
        R"({"ring":"utxocache","event":"flush","seq":0,"ts_ns":0,"duration_us":-7,)"
        R"("mode":"force-sync","coins_count":18446744073709551615,)"
        R"("coins_mem_usage":9876543210,"for_prune":true})";
    e["utxocache:add"] = R"({"ring":"utxocache","event":"add","seq":1,"ts_ns":0,"txid":")" + A +
                         R"(","index":4294967295,"height":800000,)"
                         R"("value":9223372036854775807,"is_coinbase":true})";
    e["utxocache:spent"] = R"({"ring":"utxocache","event":"spent","seq":2,"ts_ns":0,"txid":")" + B +
                           R"(","index":0,"height":1,"value":-9223372036854775808,)"
                           R"("is_coinbase":false})";
    e["utxocache:uncache"] = R"({"ring":"utxocache","event":"uncache","seq":3,"ts_ns":0,"txid":")" +
                             C + R"(","index":5,"height":2,"value":50,"is_coinbase":true})";
    e["coin_selection:selected_coins"] =
        R"({"ring":"coin_selection","event":"selected_coins","seq":0,"ts_ns":0,)"
        R"("wallet_name":"","algo":"bnb","target":100000,"waste":-250,)"
        R"("selected_value":100500})";
    e["coin_selection:normal_create_tx_internal"] =
        R"({"ring":"coin_selection","event":"normal_create_tx_internal","seq":1,"ts_ns":0,)"
        R"("wallet_name":"w1","success":true,"fee":1410,"change_pos":-1})";
    e["coin_selection:attempting_aps_create_tx"] =
        R"({"ring":"coin_selection","event":"attempting_aps_create_tx","seq":2,"ts_ns":0,)"
        "\"wallet_name\":\"wallet \xe2\x82\xbf\"}";
    e["coin_selection:aps_create_tx_internal"] =
        R"({"ring":"coin_selection","event":"aps_create_tx_internal","seq":3,"ts_ns":0,)"
        R"("wallet_name":"w1","use_aps":false,"success":true,"fee":1500,"change_pos":1})";
    e["mempool:added"] = R"({"ring":"mempool","event":"added","seq":0,"ts_ns":0,"txid":")" + A +
                         R"(","vsize":141,"fee":1410})";
    e["mempool:removed"] = R"({"ring":"mempool","event":"removed","seq":1,"ts_ns":0,"txid":")" + A +
                           R"(","reason":"sizelimit","vsize":141,"fee":1410,)"
                           R"("entry_time":1700000000,"reason_name":null})";
    e["mempool:replaced"] =
        R"({"ring":"mempool","event":"replaced","seq":2,"ts_ns":0,"replaced_txid":")" + B +
        R"(","replaced_vsize":200,"replaced_fee":2000,"replaced_entry_time":1700000001,)"
        R"("replacement_txid":")" +
        C +
        R"(","replacement_vsize":300,"replacement_fee":-4000,)"
        R"("replaced_by_transaction":false})";
    e["mempool:rejected"] = R"({"ring":"mempool","event":"rejected","seq":3,"ts_ns":0,"txid":")" +
                            C + R"(","reason":"min relay fee not met"})";
    return e;
}

std::string KeyOf(const Json& line)
{
    const Json* ring = line.Get("ring");
    const Json* event = line.Get("event");
    return ring && event ? ring->text + ":" + event->text : "";
}

//! Checks 20 watch/read --json lines against the known events; "" if they all match.
std::string CheckAllEvents(const std::vector<std::string>& lines)
{
    std::ostringstream problems;
    auto expected = ExpectedEventLines();
    std::map<std::string, uint64_t> next_seq;
    for (const std::string& line : lines) {
        const auto json = JsonParser::Parse(line);
        if (!json || json->kind != Json::Kind::Object) {
            problems << "not a JSON object: " << line << "\n";
            continue;
        }
        const std::vector<std::string> keys = json->Keys();
        if (keys.size() < 4 || keys[0] != "ring" || keys[1] != "event" || keys[2] != "seq" ||
            keys[3] != "ts_ns" || json->Get("ts_ns")->kind != Json::Kind::Number ||
            json->Get("ts_ns")->text == "0") {
            problems << "bad leading keys: " << line << "\n";
            continue;
        }
        // Within a ring, events come in seq order.
        const std::string ring = json->Get("ring")->text;
        if (json->Get("seq")->text != std::to_string(next_seq[ring]++)) {
            problems << "out of order in ring " << ring << ": " << line << "\n";
        }
        const std::string key = KeyOf(*json);
        const auto it = expected.find(key);
        if (it == expected.end()) {
            problems << "unexpected or repeated event: " << line << "\n";
            continue;
        }
        if (WithoutTimestamp(line) != it->second) {
            problems << key << ":\n  got  " << WithoutTimestamp(line) << "\n  want " << it->second
                     << "\n";
        }
        expected.erase(it);
    }
    for (const auto& [key, line] : expected) {
        problems << "missing " << key << "\n";
    }
    return problems.str();
}

//! The state letter of a process ('T' when stopped), from /proc.
char ProcessState(pid_t pid)
{
    const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

bool SignalTaken(pid_t pid, int sig)
{
    ::kill(pid, sig);
    // A signal sent to the process waits in its shared pending set (ShdPnd), or in a thread's
    // (SigPnd), until a thread takes it.
    const auto pending = [&] {
        std::istringstream status{ReadFile("/proc/" + std::to_string(pid) + "/status")};
        bool found = false;
        for (std::string line; std::getline(status, line);) {
            if (line.starts_with("ShdPnd:") || line.starts_with("SigPnd:")) {
                const uint64_t mask = std::stoull(line.substr(7), nullptr, 16);
                found = found || ((mask >> (sig - 1)) & 1) != 0;
            }
        }
        return found;
    };
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pending()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
    }
    return true;
}

Outcome RunWithFullStdout(const std::string& program, const std::vector<std::string>& args)
{
    // The shell points stderr at the pipe Subprocess reads, stdout at /dev/full.
    std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1 >/dev/full", program};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess process{argv};
    Outcome out;
    for (std::string line = process.ReadLine(); !line.empty(); line = process.ReadLine()) {
        out.err += line + "\n";
    }
    out.code = process.Wait();
    return out;
}

//! Stops process `pid` (SIGSTOP) and waits, up to 2 s, until it is stopped; whether it is.
bool Suspend(pid_t pid)
{
    ::kill(pid, SIGSTOP);
    for (int i = 0; i < 2000 && ProcessState(pid) != 'T'; ++i) {
        std::this_thread::sleep_for(1ms);
    }
    return ProcessState(pid) == 'T';
}

//! Stops `ringdump` (SIGSTOP), has the producer of a 4 KiB ring flood it with 300 mempool
//! events, which it mostly drops, and continues it. The events the producer dropped.
uint64_t FloodWhileStopped(TestProducer& producer, Ringdump& ringdump)
{
    EXPECT_TRUE(Suspend(ringdump.pid()));
    const std::string flood = producer.Command("flood 300");
    ringdump.Kill(SIGCONT);
    uint64_t dropped = 0, attempted = 0;
    EXPECT_EQ(
        std::sscanf(flood.c_str(), "done full=%" SCNu64 " seq=%" SCNu64, &dropped, &attempted), 2)
        << flood;
    EXPECT_EQ(attempted, 300u);
    EXPECT_GT(dropped, 0u);
    EXPECT_LT(dropped, 300u);
    return dropped;
}

} // namespace tracering::test::ringdump
