// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "counters.h"

namespace tracering::extractor {
namespace {

constexpr std::array<Ring, RING_COUNT> RINGS{Ring::Net, Ring::Mempool, Ring::Validation};
constexpr std::array<Subject, SUBJECT_COUNT> SUBJECTS{Subject::NetMsg, Subject::NetConn,
                                                      Subject::Mempool, Subject::Validation};

uint64_t Load(const std::atomic<uint64_t>& counter)
{
    return counter.load(std::memory_order_relaxed);
}

//! The HELP and TYPE lines of a metric.
void Header(std::string& out, const char* metric, const char* type, const char* help)
{
    out += "# HELP tracering_extractor_";
    out += metric;
    out += ' ';
    out += help;
    out += "\n# TYPE tracering_extractor_";
    out += metric;
    out += ' ';
    out += type;
    out += '\n';
}

//! One metric with a value per ring or per subject: HELP, TYPE and a line per label value.
template <typename Key, size_t N, typename Name, typename Value>
void Family(std::string& out, const char* metric, const char* label, const char* help,
            const std::array<Key, N>& keys, Name name, Value value)
{
    Header(out, metric, "counter", help);
    for (const Key key : keys) {
        out += "tracering_extractor_";
        out += metric;
        out += '{';
        out += label;
        out += "=\"";
        out += name(key);
        out += "\"} ";
        out += std::to_string(value(key));
        out += '\n';
    }
}

void Single(std::string& out, const char* metric, const char* type, const char* help,
            uint64_t value)
{
    Header(out, metric, type, help);
    out += "tracering_extractor_";
    out += metric;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

//! " net=1 mempool=2 validation=3" or " netmsg=1 netconn=2 mempool=3 validation=4".
template <typename Key, size_t N, typename Name, typename Value>
void Values(std::string& out, const char* what, const std::array<Key, N>& keys, Name name,
            Value value)
{
    out += ' ';
    out += what;
    for (const Key key : keys) {
        out += ' ';
        out += name(key);
        out += '=';
        out += std::to_string(value(key));
    }
}

} // namespace

std::string_view RingName(Ring ring)
{
    switch (ring) {
    case Ring::Net:
        return "net";
    case Ring::Mempool:
        return "mempool";
    case Ring::Validation:
        return "validation";
    }
    return "?";
}

std::string PrometheusText(const Counters& c)
{
    std::string out;
    const auto ring_name = [](Ring r) { return RingName(r); };
    const auto subject_name = [](Subject s) { return std::string_view{SubjectName(s)}; };
    const auto ring = [&c](auto field) {
        return [&c, field](Ring r) { return Load(c.rings[size_t(r)].*field); };
    };
    const auto subject = [&c](auto field) {
        return [&c, field](Subject s) { return Load(c.subjects[size_t(s)].*field); };
    };
    Family(out, "events_read_total", "ring", "Events read from the node's ring.", RINGS, ring_name,
           ring(&RingCounters::read));
    Family(out, "events_lost_total", "ring",
           "Events the node dropped before the extractor read them (ring full or reader "
           "detached).",
           RINGS, ring_name, ring(&RingCounters::lost));
    Family(out, "events_skipped_total", "ring",
           "Events read that peer-observer has no message for (not published).", RINGS, ring_name,
           ring(&RingCounters::skipped));
    Family(out, "messages_published_total", "subject", "Events published to NATS.", SUBJECTS,
           subject_name, subject(&SubjectCounters::published));
    Family(out, "messages_refused_total", "subject",
           "Events NATS refused for their size (over the server's max_payload).", SUBJECTS,
           subject_name, subject(&SubjectCounters::refused));
    Family(out, "messages_failed_total", "subject",
           "Events not published because NATS was down, or for another NATS error.", SUBJECTS,
           subject_name, subject(&SubjectCounters::failed));
    Family(out, "messages_unconfirmed_total", "subject",
           "Published events whose NATS connection broke before the server confirmed them "
           "(possibly lost).",
           SUBJECTS, subject_name, subject(&SubjectCounters::unconfirmed));
    Family(out, "messages_undecodable_total", "subject",
           "P2P messages whose payload did not decode, sent as Unknown.", SUBJECTS, subject_name,
           subject(&SubjectCounters::undecodable));
    Single(out, "node_attached", "gauge", "1 while attached to the node's rings.",
           Load(c.node_attached));
    Single(out, "node_pid", "gauge", "The pid of the node attached to (0 when not attached).",
           Load(c.node_pid));
    Single(out, "node_attaches_total", "counter", "Sessions opened with the node.",
           Load(c.attaches));
    Single(out, "nats_connected", "gauge", "1 while connected to the NATS server.",
           Load(c.nats_connected));
    Single(out, "nats_disconnects_total", "counter", "Connections to NATS lost.",
           Load(c.nats_disconnects));
    Single(out, "nats_reconnects_total", "counter", "Connections to NATS made again.",
           Load(c.nats_reconnects));
    return out;
}

std::string StatsLine(const Counters& c)
{
    std::string out = "stats";
    const auto ring_name = [](Ring r) { return RingName(r); };
    const auto subject_name = [](Subject s) { return std::string_view{SubjectName(s)}; };
    const auto ring = [&c](auto field) {
        return [&c, field](Ring r) { return Load(c.rings[size_t(r)].*field); };
    };
    const auto subject = [&c](auto field) {
        return [&c, field](Subject s) { return Load(c.subjects[size_t(s)].*field); };
    };
    Values(out, "read", RINGS, ring_name, ring(&RingCounters::read));
    Values(out, "lost", RINGS, ring_name, ring(&RingCounters::lost));
    Values(out, "skipped", RINGS, ring_name, ring(&RingCounters::skipped));
    Values(out, "published", SUBJECTS, subject_name, subject(&SubjectCounters::published));
    Values(out, "refused", SUBJECTS, subject_name, subject(&SubjectCounters::refused));
    Values(out, "failed", SUBJECTS, subject_name, subject(&SubjectCounters::failed));
    Values(out, "unconfirmed", SUBJECTS, subject_name, subject(&SubjectCounters::unconfirmed));
    Values(out, "undecodable", SUBJECTS, subject_name, subject(&SubjectCounters::undecodable));
    out += " attaches=" + std::to_string(Load(c.attaches));
    out += " nats_reconnects=" + std::to_string(Load(c.nats_reconnects));
    return out;
}

} // namespace tracering::extractor
