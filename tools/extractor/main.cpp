// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-extractor: a node's net, mempool and validation events to NATS, as
//! peer-observer's protobuf events. This file turns argv into ExtractorOptions (getopt_long,
//! with peer-observer's flags); the work is in extractor.cpp.

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <getopt.h>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "extractor.h"
#include "log.h"

namespace {

using namespace tracering::extractor;

//! Writer: OnSignal (SIGINT, SIGTERM). Reader: the main loop (Run), which then stops.
//! Relaxed: the flag orders no other data.
std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

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
    "  0  stopped by SIGINT or SIGTERM (after reading what the rings held and logging the\n"
    "     last stats line)\n"
    "  1  usage: a bad command line, or the node does not have the events asked for\n"
    "  2  cannot start: NATS refused the credentials, the password file or the metrics\n"
    "     address cannot be used, or the node's socket is not ours to use (permission denied)\n"
    "  3  the node speaks another tracering ABI version\n";

int Usage(const std::string& message)
{
    std::fprintf(stderr,
                 "tracering-extractor: %s\nRun 'tracering-extractor --help' for the options.\n",
                 message.c_str());
    return EXIT_USAGE;
}

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

bool ParseSeconds(const char* text, double& out)
{
    char* end = nullptr;
    errno = 0;
    out = std::strtod(text, &end);
    return *text && errno == 0 && *end == '\0' && out >= 0 && out < 1e9;
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

enum LongOnly : int {
    CONTROL = 1000,
    DATADIR,
    CHAIN,
    LOSSLESS,
    NO_P2PMSG,
    NO_CONNECTION,
    NO_MEMPOOL,
    NO_VALIDATION,
    METRICS_ADDRESS,
    STATS_INTERVAL,
};

const option LONG_OPTIONS[] = {
    {"control", required_argument, nullptr, CONTROL},
    {"datadir", required_argument, nullptr, DATADIR},
    {"chain", required_argument, nullptr, CHAIN},
    {"lossless", no_argument, nullptr, LOSSLESS},
    {"no-p2pmsg-tracepoints", no_argument, nullptr, NO_P2PMSG},
    {"no-connection-tracepoints", no_argument, nullptr, NO_CONNECTION},
    {"no-mempool-tracepoints", no_argument, nullptr, NO_MEMPOOL},
    {"no-validation-tracepoints", no_argument, nullptr, NO_VALIDATION},
    {"nats-address", required_argument, nullptr, 'a'},
    {"nats-username", required_argument, nullptr, 'u'},
    {"nats-password", required_argument, nullptr, 'p'},
    {"nats-password-file", required_argument, nullptr, 'f'},
    {"log-level", required_argument, nullptr, 'l'},
    {"metrics-address", required_argument, nullptr, METRICS_ADDRESS},
    {"stats-interval", required_argument, nullptr, STATS_INTERVAL},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

//! The long name of option `code` ("--control"), for messages.
std::string LongName(int code)
{
    for (const option& o : LONG_OPTIONS) {
        if (o.name && o.val == code) return std::string{"--"} + o.name;
    }
    return "?";
}

//! The option getopt_long just returned as the user may have typed it: "-a/--nats-address"
//! for those with a short form.
std::string OptionName(int code)
{
    if (code < 256) return std::string{"-"} + char(code) + "/" + LongName(code);
    return LongName(code);
}

} // namespace

int main(int argc, char** argv)
{
    ExtractorOptions options;
    std::string datadir;
    std::string chain;
    std::string password_file;
    bool have_password = false;
    std::set<int> seen; // options with a value given so far
    opterr = 0;         // the messages below name the option and what to do
    for (;;) {
        const int code = getopt_long(argc, argv, ":a:u:p:f:l:h", LONG_OPTIONS, nullptr);
        if (code == -1) break;
        if (code == '?') {
            const std::string given = optopt ? std::string{"-"} + char(optopt) : argv[optind - 1];
            if (const char* instead = EbpfExtractorOption(given)) {
                return Usage(given.substr(0, given.find('=')) +
                             " is an option of peer-observer's ebpf-extractor, with no use here: " +
                             instead);
            }
            return Usage("unknown option " + given);
        }
        if (code == ':') {
            const bool short_option = optopt > 0 && optopt < 256 && std::strchr("auplf", optopt);
            const std::string given =
                short_option ? std::string{"-"} + char(optopt) : std::string{argv[optind - 1]};
            return Usage(given + " needs a value");
        }
        const std::string name = OptionName(code);
        if (optarg) {
            if (!seen.insert(code).second) return Usage(name + " is given twice; give it once");
            // "--control --datadir DIR": a forgotten value, not a socket called --datadir.
            // A password may start with '-'.
            if (code != 'p' && optarg[0] == '-' && optarg[1] != '\0') {
                return Usage(name + " needs a value, not '" + optarg + "' (write " +
                             LongName(code) + "=VALUE for a value that starts with -)");
            }
        }
        switch (code) {
        case 'h':
            std::fputs(HELP, stdout);
            return EXIT_OK;
        case CONTROL:
            options.control = optarg;
            if (options.control.empty()) return Usage("--control needs the node's socket path");
            break;
        case DATADIR:
            datadir = optarg;
            if (datadir.empty()) return Usage("--datadir needs bitcoind's data directory");
            break;
        case CHAIN:
            chain = optarg;
            if (!NetworkDir(chain)) {
                return Usage("--chain '" + chain +
                             "' is not a chain bitcoind knows: main, test, testnet4, signet or "
                             "regtest");
            }
            break;
        case LOSSLESS:
            options.lossless = true;
            break;
        case NO_P2PMSG:
            options.p2pmsg = false;
            break;
        case NO_CONNECTION:
            options.connection = false;
            break;
        case NO_MEMPOOL:
            options.mempool = false;
            break;
        case NO_VALIDATION:
            options.validation = false;
            break;
        case 'a':
            options.nats.address = optarg;
            if (options.nats.address.empty()) return Usage("-a/--nats-address needs HOST:PORT");
            break;
        case 'u':
            options.nats.username = optarg;
            break;
        case 'p':
            options.nats.password = optarg;
            have_password = true;
            break;
        case 'f':
            password_file = optarg;
            break;
        case 'l': {
            const std::optional<LogLevel> level = ParseLogLevel(optarg);
            if (!level) {
                return Usage(std::string{"-l/--log-level '"} + optarg +
                             "' is not a level: error, warn, info, debug or trace");
            }
            SetLogLevel(*level);
            break;
        }
        case METRICS_ADDRESS:
            options.metrics_address = optarg;
            if (options.metrics_address.empty()) {
                return Usage("--metrics-address needs HOST:PORT, e.g. 127.0.0.1:8285");
            }
            break;
        case STATS_INTERVAL:
            if (!ParseSeconds(optarg, options.stats_interval_s)) {
                return Usage(std::string{"--stats-interval needs a number of seconds, not '"} +
                             optarg + "'");
            }
            break;
        }
    }
    if (optind < argc) return Usage(std::string{"unexpected argument '"} + argv[optind] + "'");
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

    // The first SIGINT or SIGTERM stops the extractor cleanly; a second one (SA_RESETHAND)
    // kills it, should the clean stop itself hang.
    struct sigaction action {
    };
    action.sa_handler = OnSignal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    // A NATS server or a scraper that goes away mid-write is an error to handle, not a
    // reason to die.
    std::signal(SIGPIPE, SIG_IGN);

    return Run(options, g_stop);
}
