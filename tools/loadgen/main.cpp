// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-loadgen: a P2P v1 client that loads a regtest node with pings, blocks or
//! transactions. See --help. The ping mode works against a real regtest bitcoind too; the
//! blocks and transactions it sends are well-formed but not valid (no proof of work, made-up
//! outpoints), so only a node that does not validate them, like tracering-testnode, keeps
//! the connection.

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include "loadgen/connection.h"
#include "p2p/block.h"
#include "p2p/builder.h"
#include "p2p/endpoint.h"
#include "p2p/protocol.h"
#include "p2p/serialize.h"

namespace {

using namespace tracering;
using loadgen::Clock;
using loadgen::Connection;

constexpr const char* USAGE = R"(usage: tracering-loadgen --connect IP:PORT MODE [options]

Connects to a regtest node as an inbound P2P (v1) peer, completes the handshake (sends
version, waits for the node's version and verack, sends verack), then:

  ping --count N [--rate R]
      sends N pings with nonces 0, 1, ..., N-1, pipelined (it does not wait for each
      pong), as fast as the socket takes them or at R pings per second (in batches of
      5 ms worth, each sent when due; N pings take N/R s, the last ping's 1/R s
      included, so that rate= is R when every pong comes in time). A second thread
      reads the pongs and checks that pong i carries nonce i. Then waits, at most
      --timeout seconds, for the last pong.
  blocks --count N [--size BYTES | --file BLOCKFILE]
      sends N blocks: well-formed blocks of exactly BYTES bytes (default 1000000, from
      180 to 4000000), built deterministically as a chain starting at height 1 with
      distinct hashes (p2p::BlockBuilder); or the block in BLOCKFILE (a raw block, the
      payload of a block message) N times.
  txs --count N
      sends N distinct transactions: transaction i is p2p::MakeTransaction(i, segwit =
      i is odd), 554 bytes legacy or 558 bytes with witness.

blocks and txs end with one more ping (nonce 0xffffffffffffffff) as a barrier: its
pong means the node has processed everything sent before it. That ping is not counted
in "sent".

Options:
  --connect IP:PORT    the node to load (required)
  --timeout SECONDS    bound on the handshake and on waiting for the last answer
                       (default 30, at most 86400)
  --help               this text

Output: a summary line, e.g.
  sent 100000 ping in 0.41 s, received 100000 pong in 0.52 s (192k msg/s)
then a machine-readable line:
  result mode=ping sent=100000 pongs=100000 bad_nonces=0 send_seconds=0.410 seconds=0.520
  rate=192307
(one line; send_seconds is the time until everything was sent (with --rate, until the end
of the last ping's 1/R s), seconds the time until the last answer or until the end of
sending, whichever is later; rate is answered pings per second of seconds; blocks and txs
print bytes= and pongs=1 for the barrier instead of bad_nonces=).

SIGINT, SIGTERM or SIGHUP stop the sending: pings, blocks or transactions already sent
are still answered (pongs, or the barrier pong, within --timeout), the summary says how
many of N were sent and the result line ends with stopped=1. A second signal, a second or
more after the first, kills the program at once.

Exit codes: 0 everything sent and answered; 1 bad usage (or unreadable BLOCKFILE);
2 cannot connect (refused, unreachable), handshake failed, the connection broke, or stdout
could not be written (the result line is lost); 3 answers missing or wrong (timed out
waiting for pongs, a pong with the wrong nonce); 4 stopped by a signal, everything sent
before it answered.
)";

constexpr uint64_t BARRIER_NONCE = ~uint64_t{0};
//! Exit code of a run stopped by a signal whose messages sent before it were all answered.
constexpr int EXIT_STOPPED = 4;
constexpr uint64_t DEFAULT_BLOCK_SIZE = 1'000'000;
//! Upper bounds of --timeout (one day) and --rate: beyond them a typo, and their conversions to
//! milliseconds and batch sizes stay far inside int64_t and uint64_t.
constexpr double MAX_TIMEOUT_SECONDS = 86'400;
constexpr double MAX_RATE = 1e9;

int Usage(const std::string& error) { return cli::Usage("tracering-loadgen", "", error); }

int Fail(int code, const std::string& error)
{
    std::fprintf(stderr, "tracering-loadgen: %s\n", error.c_str());
    return code;
}

struct Args {
    std::optional<p2p::Endpoint> connect;
    std::string mode;
    std::optional<uint64_t> count;
    std::optional<double> rate;
    std::optional<uint64_t> size;
    std::string file;
    double timeout{30};
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string FormatSeconds(double seconds)
{
    char text[32];
    std::snprintf(text, sizeof(text), "%g", seconds);
    return text;
}

//! "192k", "1.25M": rates as people read them.
std::string HumanRate(double per_second)
{
    char text[32];
    if (per_second >= 1e6) {
        std::snprintf(text, sizeof(text), "%.2fM", per_second / 1e6);
    } else if (per_second >= 1e4) {
        std::snprintf(text, sizeof(text), "%.0fk", per_second / 1e3);
    } else {
        std::snprintf(text, sizeof(text), "%.1f", per_second);
    }
    return text;
}

std::chrono::milliseconds TimeoutOf(const Args& args)
{
    return std::chrono::milliseconds{static_cast<int64_t>(args.timeout * 1000)};
}

//! Exit code for a failed Receive(): a missing answer (3) or a broken connection (2).
int ReceiveFailure(const Error& error)
{
    return Fail(error.code() == ErrorCode::NotReady ? 3 : 2, error.message());
}

//! Sleeps until `deadline`, or less once `stop` is set (looked at every 50 ms at most).
void SleepUntil(Clock::time_point deadline, const std::atomic<bool>& stop)
{
    constexpr auto SLICE = std::chrono::milliseconds{50};
    while (!stop.load(std::memory_order_relaxed)) {
        const auto now = Clock::now();
        if (now >= deadline) return;
        std::this_thread::sleep_until(std::min<Clock::time_point>(deadline, now + SLICE));
    }
}

//! " of N" and the reason, for a summary of a run that a signal cut short; "" otherwise.
std::string StoppedNote(bool stopped, uint64_t count)
{
    return stopped ? " of " + std::to_string(count) + " (stopped by a signal)" : "";
}

int RunPing(Connection& connection, const Args& args, const std::atomic<bool>& stop)
{
    const uint64_t count = *args.count;
    // The pongs the reader waits for: `count`, or the pings sent when a signal stopped the
    // sending (stored by the sender; pongs never outnumber the pings sent).
    std::atomic<uint64_t> expected{count};
    // Readers' state: written by the reader thread only, read after join().
    uint64_t pongs = 0;
    uint64_t bad_nonces = 0;
    uint64_t first_bad_index = 0;
    uint64_t first_bad_nonce = 0;
    Clock::time_point last_pong{};
    std::optional<Error> reader_error;
    // Set by the sender once everything is sent: when the reader stops waiting for pongs,
    // in Clock ticks since `start`.
    std::atomic<Clock::rep> give_up_ticks{std::numeric_limits<Clock::rep>::max()};

    const auto start = Clock::now();
    std::thread reader{[&] {
        const auto handle = [&](const p2p::MessageHeader& header,
                                std::span<const uint8_t> payload) {
            if (std::string_view{header.Command()} != "pong") return true;
            const uint64_t nonce = payload.size() >= 8 ? p2p::LoadU64(payload.data()) : ~pongs;
            if (nonce != pongs) {
                if (bad_nonces++ == 0) {
                    first_bad_index = pongs;
                    first_bad_nonce = nonce;
                }
            }
            ++pongs;
            last_pong = Clock::now();
            return pongs < expected.load(std::memory_order_relaxed);
        };
        while (pongs < expected.load(std::memory_order_relaxed)) {
            Result<void> r =
                connection.Receive(Clock::now() + std::chrono::milliseconds{200}, handle);
            if (r) break;
            if (r.error().code() != ErrorCode::NotReady) {
                reader_error = r.error();
                break;
            }
            if ((Clock::now() - start).count() > give_up_ticks.load(std::memory_order_relaxed)) {
                reader_error = r.error();
                break;
            }
        }
    }};

    // Pings go out in batches of up to 4096 (128 KiB) per send(); with --rate, batches of
    // about 5 ms worth, each sent when it is due. After each batch, sending waits until its
    // pings' share of the time has passed, the last batch's too: N pings at R per second
    // take N / R seconds, as they would in a longer run.
    const uint64_t batch =
        args.rate ? std::clamp<uint64_t>(static_cast<uint64_t>(*args.rate / 200), 1, 4096) : 4096;
    std::vector<uint8_t> buffer;
    buffer.reserve(batch * (p2p::HEADER_SIZE + 8));
    std::optional<Error> send_error;
    uint64_t sent = 0;
    while (sent < count && !stop.load(std::memory_order_relaxed)) {
        buffer.clear();
        for (uint64_t k = 0; k < batch && sent < count; ++k, ++sent) {
            const std::array<uint8_t, 8> nonce = p2p::SerializeNonce(sent);
            p2p::AppendMessage(buffer, p2p::REGTEST_MAGIC, "ping", nonce);
        }
        if (Result<void> r = connection.Send(buffer); !r) {
            send_error = r.error();
            break;
        }
        if (args.rate) {
            SleepUntil(start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(double(sent) / *args.rate)),
                       stop);
        }
    }
    const bool stopped = sent < count && !send_error;
    if (stopped) expected.store(sent, std::memory_order_relaxed);
    const auto sent_at = Clock::now();
    // After a failed send no more pongs are coming: the reader stops at its next wakeup.
    const Clock::duration grace = send_error ? Clock::duration::zero() : TimeoutOf(args);
    give_up_ticks.store((sent_at - start + grace).count(), std::memory_order_relaxed);
    reader.join();

    const double send_seconds = Seconds(sent_at - start);
    // The run ends with the last pong, or with the last ping's share of the time if that is
    // later (a paced run whose pongs came quickly): never before sending ended.
    const bool answered = pongs == expected.load(std::memory_order_relaxed);
    const double seconds =
        Seconds((answered ? std::max(last_pong, sent_at) : Clock::now()) - start);
    const double rate = seconds > 0 ? double(pongs) / seconds : 0;
    std::printf(
        "sent %" PRIu64 "%s ping in %.2f s, received %" PRIu64 " pong in %.2f s (%s msg/s)\n", sent,
        StoppedNote(stopped, count).c_str(), send_seconds, pongs, seconds, HumanRate(rate).c_str());
    std::printf("result mode=ping sent=%" PRIu64 " pongs=%" PRIu64 " bad_nonces=%" PRIu64
                " send_seconds=%.3f seconds=%.3f rate=%.0f%s\n",
                sent, pongs, bad_nonces, send_seconds, seconds, rate, stopped ? " stopped=1" : "");
    std::fflush(stdout);
    if (send_error) return Fail(2, send_error->message());
    if (bad_nonces != 0) {
        return Fail(3, std::to_string(bad_nonces) +
                           " pongs had the wrong nonce; the first was pong " +
                           std::to_string(first_bad_index) + " with nonce " +
                           std::to_string(first_bad_nonce));
    }
    if (reader_error) {
        if (reader_error->code() == ErrorCode::NotReady) {
            return Fail(3, "timed out after " + FormatSeconds(args.timeout) + " s with " +
                               std::to_string(sent - pongs) + " of " + std::to_string(sent) +
                               " pongs missing");
        }
        return Fail(2, reader_error->message());
    }
    return stopped ? EXIT_STOPPED : 0;
}

//! Sends the barrier ping and waits for its pong.
Result<void> Barrier(Connection& connection, const Args& args)
{
    if (Result<void> r = connection.SendMessage("ping", p2p::SerializeNonce(BARRIER_NONCE)); !r) {
        return r;
    }
    return connection.Receive(Clock::now() + TimeoutOf(args), [](const p2p::MessageHeader& header,
                                                                 std::span<const uint8_t> payload) {
        return !(std::string_view{header.Command()} == "pong" && payload.size() >= 8 &&
                 p2p::LoadU64(payload.data()) == BARRIER_NONCE);
    });
}

//! Prints the summary of a blocks or txs run: `mode` as given on the command line, `what`
//! the message type sent.
int Report(const char* mode, const char* what, uint64_t count, uint64_t sent, uint64_t bytes,
           Clock::time_point start, Clock::time_point sent_at, const Result<void>& barrier)
{
    const bool stopped = sent < count;
    const auto end = Clock::now();
    const double send_seconds = Seconds(sent_at - start);
    const double seconds = Seconds(end - start);
    const double rate = seconds > 0 ? double(sent) / seconds : 0;
    std::printf("sent %" PRIu64 "%s %s (%" PRIu64 " bytes) in %.2f s, %s after %.2f s (%s msg/s, "
                "%.1f MB/s)\n",
                sent, StoppedNote(stopped, count).c_str(), what, bytes, send_seconds,
                barrier ? "barrier pong received" : "no barrier pong", seconds,
                HumanRate(rate).c_str(), seconds > 0 ? double(bytes) / seconds / 1e6 : 0.0);
    std::printf("result mode=%s sent=%" PRIu64 " bytes=%" PRIu64 " pongs=%d send_seconds=%.3f "
                "seconds=%.3f rate=%.1f%s\n",
                mode, sent, bytes, barrier ? 1 : 0, send_seconds, seconds, rate,
                stopped ? " stopped=1" : "");
    std::fflush(stdout);
    if (!barrier) return ReceiveFailure(barrier.error());
    return stopped ? EXIT_STOPPED : 0;
}

int RunBlocks(Connection& connection, const Args& args, const std::vector<uint8_t>& file_block,
              const std::atomic<bool>& stop)
{
    std::optional<p2p::BlockBuilder> builder;
    if (file_block.empty()) builder.emplace(args.size.value_or(DEFAULT_BLOCK_SIZE));
    const auto start = Clock::now();
    uint64_t bytes = 0, sent = 0;
    for (; sent < *args.count && !stop.load(std::memory_order_relaxed); ++sent) {
        const std::span<const uint8_t> block = builder ? builder->Next() : file_block;
        if (Result<void> r = connection.SendMessage("block", block); !r) {
            return Fail(2, r.error().message());
        }
        bytes += block.size();
    }
    const auto sent_at = Clock::now();
    return Report("blocks", "block", *args.count, sent, bytes, start, sent_at,
                  Barrier(connection, args));
}

int RunTransactions(Connection& connection, const Args& args, const std::atomic<bool>& stop)
{
    const auto start = Clock::now();
    uint64_t bytes = 0, sent = 0;
    for (; sent < *args.count && !stop.load(std::memory_order_relaxed); ++sent) {
        const std::vector<uint8_t> tx = p2p::MakeTransaction(sent, /*segwit=*/sent % 2 == 1);
        if (Result<void> r = connection.SendMessage("tx", tx); !r)
            return Fail(2, r.error().message());
        bytes += tx.size();
    }
    const auto sent_at = Clock::now();
    return Report("txs", "tx", *args.count, sent, bytes, start, sent_at, Barrier(connection, args));
}

//! Reads and checks a raw block file; the error says what is wrong with it. Reads at most one
//! byte more than a message may carry, whatever the file is (a device such as /dev/zero has no
//! size to check first and never ends).
Result<std::vector<uint8_t>> ReadBlockFile(const std::string& path)
{
    std::ifstream in{path, std::ios::binary};
    if (!in) return Error{ErrorCode::NotFound, "cannot read block file " + path};
    std::vector<uint8_t> bytes(p2p::MAX_PROTOCOL_MESSAGE_LENGTH + 1);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (in.bad()) return Error{ErrorCode::SystemError, "error reading block file " + path};
    bytes.resize(static_cast<size_t>(in.gcount()));
    if (bytes.size() > p2p::MAX_PROTOCOL_MESSAGE_LENGTH) {
        return Error{ErrorCode::InvalidArgument,
                     "block file " + path + " holds more than " +
                         std::to_string(p2p::MAX_PROTOCOL_MESSAGE_LENGTH) +
                         " bytes, the most a message may carry"};
    }
    if (Result<p2p::BlockInfo> block = p2p::ParseBlock(bytes); !block) {
        return Error{ErrorCode::InvalidArgument,
                     path + " is not a raw block: " + block.error().message()};
    }
    return bytes;
}

int Main(int argc, char** argv)
{
    Args args;
    cli::Args a{"tracering-loadgen", argc, argv};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        std::string value;
        if (a.IsPositional()) {
            if (!args.mode.empty()) return a.Unknown();
            args.mode = a.arg();
        } else if (a.Is("--connect")) {
            ok = a.Value(value);
            if (ok) {
                Result<p2p::Endpoint> endpoint = p2p::ParseEndpoint(value);
                if (!endpoint) return a.Usage("--connect: " + endpoint.error().message());
                args.connect = endpoint.value();
            }
        } else if (a.Is("--count")) {
            uint64_t count = 0;
            ok = a.U64(count, 1);
            args.count = count;
        } else if (a.Is("--size")) {
            uint64_t size = 0;
            ok = a.U64(size, 0, p2p::MAX_PROTOCOL_MESSAGE_LENGTH);
            if (ok && size < p2p::BlockBuilder::MinimumSize()) {
                ok = a.Fail("--size: a block takes at least " +
                            std::to_string(p2p::BlockBuilder::MinimumSize()) + " bytes");
            }
            args.size = size;
        } else if (a.Is("--file")) {
            ok = a.NonEmpty(args.file, "a raw block file");
        } else if (a.Is("--rate") || a.Is("--timeout")) {
            const bool rate = a.name() == "--rate";
            ok = a.Value(value);
            double number = 0;
            if (ok && !cli::ParseNumber(value, number)) {
                ok = a.Fail(a.name() + ": '" + value + "' is not a number");
            } else if (ok && !(number > 0)) {
                ok = a.Fail(a.name() + " must be positive");
            } else if (ok && number > (rate ? MAX_RATE : MAX_TIMEOUT_SECONDS)) {
                ok = a.Fail(
                    a.name() + ": '" + value + "' is more than " +
                    std::to_string(static_cast<uint64_t>(rate ? MAX_RATE : MAX_TIMEOUT_SECONDS)) +
                    (rate ? " pings per second" : " seconds (one day)"));
            }
            if (rate) {
                args.rate = number;
            } else {
                args.timeout = number;
            }
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    if (!args.connect) return Usage("--connect IP:PORT is required");
    if (args.mode.empty()) return Usage("a mode is required: ping, blocks or txs");
    if (args.mode != "ping" && args.mode != "blocks" && args.mode != "txs") {
        return Usage("unknown mode '" + args.mode + "' (ping, blocks or txs)");
    }
    if (!args.count) return Usage(args.mode + " needs --count N");
    if (args.rate && args.mode != "ping") return Usage("--rate is for ping only");
    if ((args.size || !args.file.empty()) && args.mode != "blocks") {
        return Usage("--size and --file are for blocks only");
    }
    if (args.size && !args.file.empty()) return Usage("give --size or --file, not both");

    std::vector<uint8_t> file_block;
    if (!args.file.empty()) {
        Result<std::vector<uint8_t>> bytes = ReadBlockFile(args.file);
        if (!bytes) return Usage(bytes.error().message());
        file_block = std::move(bytes.value());
    }

    // Before connecting, so that a signal at any time ends the run with its summary.
    static std::atomic<bool> stop{false};
    cli::StopOnSignals(stop);
    const auto deadline = Clock::now() + TimeoutOf(args);
    Result<std::unique_ptr<Connection>> connection =
        Connection::Connect(*args.connect, TimeoutOf(args));
    if (!connection) return Fail(2, connection.error().message());
    Result<p2p::VersionMessage> version = connection.value()->Handshake(deadline);
    if (!version) return Fail(2, version.error().message());
    std::printf("connected to %s: version %d, %s, height %d\n", args.connect->ToString().c_str(),
                version.value().version, version.value().user_agent.c_str(),
                version.value().start_height);
    std::fflush(stdout);

    if (args.mode == "ping") return RunPing(*connection.value(), args, stop);
    if (args.mode == "blocks") return RunBlocks(*connection.value(), args, file_block, stop);
    return RunTransactions(*connection.value(), args, stop);
}

} // namespace

int main(int argc, char** argv) { return cli::Finish("tracering-loadgen", Main(argc, argv)); }
