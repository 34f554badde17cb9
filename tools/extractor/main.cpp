// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-extractor: a node's net, mempool and validation events to NATS, as
//! peer-observer's protobuf events. This file turns argv into ExtractorOptions (tools/cli,
//! with peer-observer's flags); the work is in extractor.cpp.

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "extractor.h"
#include "log.h"
#include "metrics_server.h"

namespace {

using namespace tracering::extractor;
namespace cli = tracering::cli;

//! Writer: cli::StopOnSignals' handler (SIGINT, SIGTERM, SIGHUP). Reader: the main loop
//! (Run), which then stops. Relaxed: the flag orders no other data.
std::atomic<bool> g_stop{false};

constexpr const char* HELP =
    "tracering-extractor: feeds peer-observer from a node's tracering rings, without root\n"
    "\n"
    "Usage: tracering-extractor (--control PATH | --datadir DIR [--chain CHAIN]) [options]\n"
    "\n"
    "Attaches to the node's net, mempool and validation rings through its control socket and\n"
    "publishes every event to NATS as peer-observer's protobuf event.Event, on the subjects\n"
    "netmsg, netconn, mempool and validation, as peer-observer's ebpf-extractor does. It\n"
    "attaches again when the node restarts, and reconnects when NATS restarts. Every event's\n"
    "fate is counted: a `stats` log line every --stats-interval and at exit, and the\n"
    "Prometheus endpoint of --metrics-address.\n"
    "\n"
    "The node:\n"
    "  --control PATH              the node's control socket (bitcoind -traceringsocket)\n"
    "  --datadir DIR               bitcoind's data directory: the socket is\n"
    "                              DIR[/<network>]/tracering.sock\n"
    "  --chain CHAIN               with --datadir: main (default), test, testnet4, signet or\n"
    "                              regtest, as bitcoind's -chain\n"
    "  --lossless                  the node waits for the extractor (at most 100 ms at a\n"
    "                              time, 100 ms in any second) instead of dropping events: for\n"
    "                              tests; a node in production should never wait (default:\n"
    "                              dropped events are counted as lost)\n"
    "  --no-p2pmsg-tracepoints     leave out P2P messages (subject netmsg)\n"
    "  --no-connection-tracepoints leave out connection events (subject netconn)\n"
    "  --no-mempool-tracepoints    leave out mempool events (subject mempool)\n"
    "  --no-validation-tracepoints leave out connected blocks (subject validation)\n"
    "\n"
    "NATS:\n"
    "  -a, --nats-address ADDR     the NATS server, HOST:PORT (default 127.0.0.1:4222)\n"
    "  -u, --nats-username USER    NATS user name\n"
    "  -p, --nats-password PASS    NATS password (visible in ps; prefer -f)\n"
    "  -f, --nats-password-file F  read the NATS password from the first line of F\n"
    "\n"
    "Reporting:\n"
    "  -l, --log-level LEVEL       error, warn, info (default), debug or trace\n"
    "  --stats-interval SECONDS    log the `stats` line this often (default 60; 0: only at\n"
    "                              exit)\n"
    "  --metrics-address HOST:PORT serve the counters in Prometheus' text format at\n"
    "                              http://HOST:PORT/metrics (off by default; e.g.\n"
    "                              127.0.0.1:8285)\n"
    "  -h, --help                  this text\n"
    "\n"
    "Exit codes:\n"
    "  0  stopped by SIGINT, SIGTERM or SIGHUP (after reading what the rings held and\n"
    "     logging the last stats line); a second such signal a second or more after the\n"
    "     first kills it\n"
    "  1  usage: a bad command line, or the node does not have the events asked for\n"
    "  2  cannot start: NATS refused the credentials, the password file or the metrics\n"
    "     address cannot be used, or the node's socket is not ours to use (permission\n"
    "     denied); or stdout (this help) could not be written\n"
    "  3  the node speaks another tracering ABI version\n";

int Usage(const std::string& message) { return cli::Usage("tracering-extractor", "", message); }

//! The directory bitcoind keeps `chain`'s files in, under its data directory: what
//! GetDataDirNet() adds to the data directory. nullptr for a chain bitcoind does not know.
const char* NetworkDir(const std::string& chain)
{
    if (chain == "main") return "";
    if (chain == "test") return "testnet3";
    if (chain == "testnet4") return "testnet4";
    if (chain == "signet") return "signet";
    if (chain == "regtest") return "regtest";
    return nullptr;
}

//! What to do instead of an option of peer-observer's ebpf-extractor that this one does not
//! take (`given` as written, with or without "=VALUE"), or nullptr for any other option: an
//! operator replacing that extractor may bring its command line along.
const char* EbpfExtractorOption(std::string_view given)
{
    given = given.substr(0, given.find('='));
    if (given == "--bitcoind-path" || given == "--bitcoind-pid" || given == "--bitcoind-pid-file") {
        return "the node is found by its control socket; give --datadir DIR [--chain C] or "
               "--control PATH instead";
    }
    if (given == "--libbpf-debug") return "there is no eBPF program here; leave it out";
    if (given == "--no-idle-exit") {
        return "this extractor never exits for want of events (it waits for the node and "
               "re-attaches); leave it out";
    }
    return nullptr;
}

int Main(int argc, char** argv)
{
    ExtractorOptions options;
    std::string datadir;
    std::string chain;
    std::string password_file;
    bool have_password = false;
    struct {
        bool p2pmsg{false}, connection{false}, mempool{false}, validation{false};
    } leave_out; // the --no-*-tracepoints switches
    // The short options are peer-observer's extractor's; a password may start with '-'.
    cli::Args a{"tracering-extractor", argc, argv, "aupfl"};
    while (a.Next()) {
        bool ok = true;
        std::string value;
        if (a.IsHelp()) {
            return cli::Help(HELP);
        } else if (a.Is("--control")) {
            ok = a.SocketPath(options.control);
        } else if (a.Is("--datadir")) {
            ok = a.NonEmpty(datadir, "bitcoind's data directory");
        } else if (a.Is("--chain")) {
            ok = a.Value(chain);
            if (ok && !NetworkDir(chain)) {
                ok = a.Fail("--chain '" + chain +
                            "' is not a chain bitcoind knows: main, test, testnet4, signet or "
                            "regtest");
            }
        } else if (a.Is("--lossless")) {
            ok = a.Switch(options.lossless);
        } else if (a.Is("--no-p2pmsg-tracepoints")) {
            ok = a.Switch(leave_out.p2pmsg);
        } else if (a.Is("--no-connection-tracepoints")) {
            ok = a.Switch(leave_out.connection);
        } else if (a.Is("--no-mempool-tracepoints")) {
            ok = a.Switch(leave_out.mempool);
        } else if (a.Is("--no-validation-tracepoints")) {
            ok = a.Switch(leave_out.validation);
        } else if (a.Is("-a", "--nats-address")) {
            ok = a.NonEmpty(options.nats.address, "HOST:PORT");
        } else if (a.Is("-u", "--nats-username")) {
            ok = a.Value(options.nats.username);
        } else if (a.Is("-p", "--nats-password")) {
            ok = a.Value(options.nats.password, /*may_look_like_option=*/true);
            have_password = true;
        } else if (a.Is("-f", "--nats-password-file")) {
            ok = a.NonEmpty(password_file, "a file");
        } else if (a.Is("-l", "--log-level")) {
            ok = a.Value(value);
            const std::optional<LogLevel> level = ParseLogLevel(value);
            if (ok && !level) {
                ok = a.Fail("-l/--log-level '" + value +
                            "' is not a level: error, warn, info, debug or trace");
            }
            if (ok) SetLogLevel(*level);
        } else if (a.Is("--metrics-address")) {
            ok = a.NonEmpty(options.metrics_address, "HOST:PORT, e.g. 127.0.0.1:8285");
            if (ok) {
                const tracering::Result<MetricsAddress> address =
                    ParseMetricsAddress(options.metrics_address);
                if (!address) ok = a.Fail(address.error().message());
            }
        } else if (a.Is("--stats-interval")) {
            ok = a.Seconds(options.stats_interval_s);
        } else if (const char* instead = EbpfExtractorOption(a.arg())) {
            return Usage(a.arg() +
                         " is an option of peer-observer's ebpf-extractor, with no use "
                         "here: " +
                         instead);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }
    options.p2pmsg = !leave_out.p2pmsg;
    options.connection = !leave_out.connection;
    options.mempool = !leave_out.mempool;
    options.validation = !leave_out.validation;
    if (!options.control.empty() && !datadir.empty()) {
        return Usage("give --control or --datadir, not both");
    }
    if (!chain.empty() && datadir.empty()) {
        return Usage("--chain goes with --datadir (with --control, the socket path says it all)");
    }
    if (options.control.empty() && datadir.empty()) {
        return Usage("--control PATH or --datadir DIR is required: where the node's control "
                     "socket is");
    }
    if (!datadir.empty()) {
        const std::string network = NetworkDir(chain.empty() ? "main" : chain);
        options.control = datadir + (network.empty() ? "" : "/" + network) + "/tracering.sock";
        if (const std::string why = cli::SocketPathTooLong(options.control); !why.empty()) {
            return Usage("--datadir: the node's socket " + options.control + " " + why);
        }
    }
    if (!options.p2pmsg && !options.connection && !options.mempool && !options.validation) {
        return Usage("every group of tracepoints is left out (--no-*-tracepoints): nothing to "
                     "publish");
    }
    if (have_password && !password_file.empty()) {
        return Usage("give -p/--nats-password or -f/--nats-password-file, not both");
    }
    if (!password_file.empty()) {
        std::ifstream file{password_file};
        if (!file) {
            std::fprintf(stderr,
                         "tracering-extractor: cannot read -f/--nats-password-file %s: %s\n",
                         password_file.c_str(), std::strerror(errno));
            return EXIT_UNAVAILABLE;
        }
        std::getline(file, options.nats.password);
        if (!options.nats.password.empty() && options.nats.password.back() == '\r') {
            options.nats.password.pop_back();
        }
        have_password = true;
    }
    if (have_password && options.nats.username.empty()) {
        return Usage("a NATS password needs -u/--nats-username too");
    }

    cli::StopOnSignals(g_stop);
    // A NATS server or a scraper that goes away mid-write is an error to handle, not a
    // reason to die.
    std::signal(SIGPIPE, SIG_IGN);

    return Run(options, g_stop);
}

} // namespace

int main(int argc, char** argv) { return cli::Finish("tracering-extractor", Main(argc, argv)); }
