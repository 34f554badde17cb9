// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// The native part of the Python package `tracering` (python/tracering/__init__.py documents
// the API, __init__.pyi types it): the control client, sessions and events, over the public
// consumer API. Fields are decoded with the producer's own schema by tools/decode, the code
// ringdump prints with, so Python sees every field ringdump shows, by the same names.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/result.h>

#include <flatbuffers/reflection.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "decode/event_format.h"
#include "decode/event_schema.h"
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace tracering::python {
namespace {

using ringdump::EventFormatter;
using ringdump::EventSchema;
using ringdump::FieldValue;

//! The exception classes of python/tracering/__init__.py, by error code, set once by
//! _set_error_classes when the package is imported. Never freed: they must outlive every
//! object that raises them, up to interpreter shutdown.
py::dict* g_error_classes = nullptr;

//! The name of `code` as the C++ enum spells it, which is also its Python class's name.
const char* CodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::InvalidArgument:
        return "InvalidArgument";
    case ErrorCode::NotFound:
        return "NotFound";
    case ErrorCode::PermissionDenied:
        return "PermissionDenied";
    case ErrorCode::AlreadyExists:
        return "AlreadyExists";
    case ErrorCode::Stale:
        return "Stale";
    case ErrorCode::NotReady:
        return "NotReady";
    case ErrorCode::VersionMismatch:
        return "VersionMismatch";
    case ErrorCode::Corrupt:
        return "Corrupt";
    case ErrorCode::Busy:
        return "Busy";
    case ErrorCode::Detached:
        return "Detached";
    case ErrorCode::SystemError:
        return "SystemError";
    }
    return "Error";
}

//! Raises the Python exception for `error`: the class of its code (ProducerGone when
//! `producer_gone`), carrying the message and the code's name.
[[noreturn]] void Raise(const Error& error, bool producer_gone = false)
{
    const std::string code{CodeName(error.code())};
    py::object cls = py::reinterpret_borrow<py::object>(PyExc_RuntimeError);
    if (g_error_classes) {
        const char* key = producer_gone ? "ProducerGone" : code.c_str();
        if (g_error_classes->contains(key)) {
            cls = (*g_error_classes)[key];
        } else if (g_error_classes->contains("Error")) {
            cls = (*g_error_classes)["Error"];
        }
    }
    PyErr_SetObject(cls.ptr(), py::make_tuple(error.message(), code).ptr());
    throw py::error_already_set();
}

template <typename T>
T Take(Result<T> result)
{
    if (!result) Raise(result.error());
    return std::move(result.value());
}

//! Seconds (None: forever) as a deadline from now.
std::optional<std::chrono::steady_clock::time_point> DeadlineAfter(std::optional<double> seconds)
{
    if (!seconds) return std::nullopt;
    return std::chrono::steady_clock::now() +
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(*seconds < 0 ? 0 : *seconds));
}

//! Waiting without the GIL checks for Python signals (Ctrl-C) this often.
constexpr auto SIGNAL_CHECK_INTERVAL = std::chrono::milliseconds(50);
//! Records taken from one reader per fetch; they stay readable until the next fetch.
constexpr size_t BATCH = 256;

//! A ControlClient and the thread it belongs to (control.h: a client and its sessions belong
//! to the thread that made them; calls from another thread are refused, not undefined).
struct ClientState {
    std::unique_ptr<ControlClient> client;
    std::thread::id owner;

    void CheckThread() const
    {
        if (std::this_thread::get_id() != owner) {
            Raise(Error{ErrorCode::InvalidArgument,
                        "this tracering client belongs to the thread that called connect(); "
                        "connect again from this thread"});
        }
    }
};

//! One record handed to Python: the header copied, the payload in the ring (read, and
//! copied, only while the record is current).
struct Record {
    uint32_t reader{0}; //!< index into SessionState::readers
    ringdump::Record record;
};

//! A session with everything its events need. Events hold it, so the mapping their records
//! are in stays mapped as long as any of them lives, even after the lease ended.
struct SessionState {
    std::shared_ptr<ClientState> client;
    std::unique_ptr<Session> session;
    std::vector<RingReader*> readers;
    std::vector<py::object> ring_names;       //!< per reader, as str
    std::vector<std::optional<Error>> errors; //!< per reader: the error that ended it
    std::vector<size_t> error_order;          //!< readers in the order their errors came
    std::optional<EventFormatter> formatter;  //!< over the producer's schema
    std::unordered_map<uint16_t, py::object> event_names;
    std::unordered_map<const reflection::EnumVal*, py::object> enum_names;
    //! What Event::GetAttr needs to know of a record type, built the first time an event of
    //! that type is asked for an attribute (TypeOf).
    struct TypeAttrs {
        //! Every header attribute of Event (HEADER_ATTRS) by name, mapped to -1 - its index,
        //! and every field of the type's table that does not share a header attribute's
        //! name, mapped to its index in `fields`: one dict lookup tells what a name is.
        py::dict names;
        //! The table's fields (EventSchema::FieldsInOrder); empty for an unknown type.
        const std::vector<const reflection::Field*>* fields{nullptr};
    };
    std::unordered_map<uint16_t, TypeAttrs> types;
    int64_t clock_offset_ns{0};
    //! Bumped whenever the records handed out so far are given back to the producer: an
    //! event of an older generation is no longer current, and its fields are refused.
    uint64_t generation{0};
    //! Per reader: records fetched (RingReader::Next) and not handed out yet, in seq order.
    //! Their space stays the reader's until its queue is empty and it is released (Fetch).
    std::vector<std::deque<Record>> queues;
    //! Per reader: its last fetch stopped at its limit, so the ring may hold more now.
    std::vector<bool> limited;
    //! Per reader: the latest timestamp fetched from it so far.
    std::vector<uint64_t> latest_ns;
    bool closed{false};

    size_t Queued() const
    {
        size_t n = 0;
        for (const auto& q : queues)
            n += q.size();
        return n;
    }

    //! Gives every record fetched back to the producer, handed out or not.
    void ReleaseAll()
    {
        for (size_t i = 0; i < readers.size(); ++i) {
            readers[i]->Release();
            queues[i].clear();
            limited[i] = false;
        }
        ++generation;
    }

    //! The next record of the session, in timestamp order across its rings and seq order
    //! within each; nullopt if none can be handed out now (`may_fetch` false: none without
    //! fetching). Runs without the GIL.
    //!
    //! The order across rings: the record with the earliest timestamp among the readers'
    //! first queued records goes out, unless a reader whose last fetch stopped at its limit
    //! (limited) has fetched only earlier timestamps than it: that ring may hold earlier
    //! records still, so it is fetched first (Fetch). A limited reader that still has records
    //! queued has one no later than its latest, so the earliest record passes every limited
    //! reader's latest once those with empty queues were fetched: one Fetch is enough.
    //! Events are thus in order as the rings held them; a record written after a fetch with
    //! an earlier timestamp (its writer was stopped between taking the time and committing)
    //! can follow later ones of other rings.
    std::optional<Record> Take(bool may_fetch, size_t fetch_limit)
    {
        for (bool fetched = false;; fetched = true) {
            size_t best = SIZE_MAX;
            uint64_t horizon = UINT64_MAX;
            for (size_t i = 0; i < queues.size(); ++i) {
                if (!queues[i].empty() &&
                    (best == SIZE_MAX || queues[i].front().record.timestamp_ns <
                                             queues[best].front().record.timestamp_ns)) {
                    best = i;
                }
                if (limited[i]) horizon = std::min(horizon, latest_ns[i]);
            }
            if (best != SIZE_MAX && queues[best].front().record.timestamp_ns <= horizon) {
                Record r = queues[best].front();
                queues[best].pop_front();
                return r;
            }
            if (!may_fetch || fetched) return std::nullopt;
            Fetch(fetch_limit);
        }
    }

    //! Releases every reader whose queue is empty (what it handed out goes back to the
    //! producer: events handed out before are no longer current) and fetches up to `limit`
    //! records from each. Readers that fail are set aside with their error (after their last
    //! record, RingReader::Next).
    void Fetch(size_t limit)
    {
        ++generation;
        for (size_t i = 0; i < readers.size(); ++i) {
            if (!queues[i].empty()) continue;
            readers[i]->Release();
            limited[i] = false;
            if (errors[i]) continue;
            EventView view;
            size_t got = 0;
            while (got < limit) {
                Result<bool> next = readers[i]->Next(view);
                if (!next || !next.value()) {
                    // At the end of the ring, for now or for good: the drops up to here count
                    // in lost and stats() even if the producer writes again before they are
                    // read.
                    readers[i]->UnreportedLost();
                    if (!next) {
                        errors[i] = next.error();
                        error_order.push_back(i);
                    }
                    break;
                }
                queues[i].push_back(Record{uint32_t(i), ringdump::RecordOf(view)});
                latest_ns[i] = std::max(latest_ns[i], queues[i].back().record.timestamp_ns);
                ++got;
            }
            limited[i] = got == limit;
        }
    }

    //! Every reader failed, and everything they read before was handed out.
    bool AllFailed() const { return error_order.size() == readers.size() && Queued() == 0; }

    //! The error of the first reader that failed, raised as Python sees it: a producer that
    //! exited or died is ProducerGone, whatever the reader reported.
    [[noreturn]] void RaiseReaderError()
    {
        const Error& e = *errors[error_order.front()];
        const bool gone =
            e.code() == ErrorCode::Stale ||
            (e.code() == ErrorCode::Detached && !closed && !session->consumer().CheckProducer());
        Raise(e, gone);
    }

    void CheckOpen() const
    {
        client->CheckThread();
        if (closed) {
            Raise(Error{ErrorCode::Detached,
                        "this session was closed (its with-block ended or close() was called); "
                        "attach again"});
        }
    }

    //! Reader i's lost events: gaps before the records it read, and the drops after them
    //! up to the last time it was found at the end of the ring (RingReader::UnreportedLost,
    //! which looks again now).
    uint64_t LostOf(size_t i) { return readers[i]->stats().lost + readers[i]->UnreportedLost(); }

    void Close()
    {
        if (closed) return;
        closed = true;
        ReleaseAll();
        // The last look at the ends of the rings, for lost and stats() after the lease.
        for (RingReader* r : readers)
            r->UnreportedLost();
        // Detach() fails only when the producer is gone already: the lease ended with it.
        (void)session->Detach();
    }

    py::object EventName(uint16_t type)
    {
        auto it = event_names.find(type);
        if (it != event_names.end()) return it->second;
        const ringdump::EventDesc* desc = formatter->schema().Find(type);
        py::object name = py::str(desc ? desc->name : "type_" + std::to_string(type));
        event_names.emplace(type, name);
        return name;
    }

    py::object EnumName(const reflection::EnumVal* v)
    {
        auto it = enum_names.find(v);
        if (it != enum_names.end()) return it->second;
        py::object name = py::str(ringdump::EnumDisplayName(v->name()->string_view()));
        enum_names.emplace(v, name);
        return name;
    }

    const TypeAttrs& TypeOf(uint16_t type);

    //! The next record (Take), waiting without the GIL until there is one, every reader
    //! failed, or `deadline`; checks for Python signals every SIGNAL_CHECK_INTERVAL.
    std::optional<Record> WaitTake(size_t fetch_limit,
                                   std::optional<std::chrono::steady_clock::time_point> deadline)
    {
        if (std::optional<Record> r = Take(/*may_fetch=*/false, fetch_limit)) return r;
        Backoff backoff;
        for (;;) {
            std::optional<Record> got;
            const auto check_at = std::chrono::steady_clock::now() + SIGNAL_CHECK_INTERVAL;
            {
                py::gil_scoped_release unlocked;
                for (;;) {
                    got = Take(/*may_fetch=*/true, fetch_limit);
                    if (got || AllFailed()) break;
                    const auto now = std::chrono::steady_clock::now();
                    if ((deadline && now >= *deadline) || now >= check_at) break;
                    backoff.Idle(0);
                }
            }
            if (got || AllFailed()) return got;
            if (deadline && std::chrono::steady_clock::now() >= *deadline) return std::nullopt;
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
    }
};

//! The header attributes of every Event, in the order Event::Header() numbers them.
constexpr std::array<const char*, 8> HEADER_ATTRS{"ring",  "event",   "type",        "seq",
                                                  "ts_ns", "unix_ns", "lost_before", "truncated"};

const SessionState::TypeAttrs& SessionState::TypeOf(uint16_t type)
{
    auto it = types.find(type);
    if (it != types.end()) return it->second;
    TypeAttrs attrs;
    py::dict& table = attrs.names;
    const auto add = [&](const char* name, long slot) {
        py::str key = py::reinterpret_steal<py::str>(PyUnicode_InternFromString(name));
        if (!key) throw py::error_already_set();
        if (!table.contains(key)) table[key] = py::int_(slot);
    };
    for (size_t i = 0; i < HEADER_ATTRS.size(); ++i)
        add(HEADER_ATTRS[i], -1 - long(i));
    const int32_t index = formatter->schema().TableIndexOf(type);
    if (index >= 0) {
        attrs.fields = &formatter->schema().FieldsInOrder(uint32_t(index));
        for (size_t i = 0; i < attrs.fields->size(); ++i)
            add((*attrs.fields)[i]->name()->c_str(), long(i));
    }
    return types.emplace(type, std::move(attrs)).first->second;
}

//! One event, as Python sees it. Header values are copies and stay readable; fields are read
//! from the ring, and only while the event is current (its generation).
class Event
{
public:
    Event(std::shared_ptr<SessionState> state, const Record& record)
        : m_state{std::move(state)}, m_record{record}, m_generation{m_state->generation}
    {
    }

    py::object ring() const { return m_state->ring_names[m_record.reader]; }
    py::object event() const { return m_state->EventName(m_record.record.type); }
    uint16_t type() const { return m_record.record.type; }
    uint64_t seq() const { return m_record.record.seq; }
    uint64_t ts_ns() const { return m_record.record.timestamp_ns; }
    int64_t unix_ns() const
    {
        return int64_t(m_record.record.timestamp_ns) + m_state->clock_offset_ns;
    }
    uint64_t lost_before() const { return m_record.record.lost_before; }
    bool truncated() const { return m_record.record.truncated(); }

    //! What `ev.<name>` reads, for Event's tp_getattro: a header value or a field, found with
    //! one lookup in the type's attribute table; anything else (methods, dunders) goes the
    //! generic way, and an unknown name raises AttributeError naming the fields.
    static PyObject* GetAttr(PyObject* self, PyObject* name);

    //! Field `name` by its schema name; AttributeError (naming the fields) if there is none.
    py::object Field(const std::string& name)
    {
        const flatbuffers::Table* table = Table();
        if (!table) {
            if (name == "payload") return Bytes(m_record.record.payload);
            throw py::attribute_error("event " + Name() +
                                      " is of a type the producer's schema "
                                      "does not describe; it has only 'payload' (its raw bytes)");
        }
        const reflection::Object& object = Object();
        const reflection::Field* field = object.fields()->LookupByKey(name.c_str());
        if (!field || field->deprecated()) {
            std::string fields;
            for (const reflection::Field* f : Fields()) {
                fields += (fields.empty() ? "" : ", ") + f->name()->str();
            }
            throw py::attribute_error("event " + Name() + " has no field '" + name +
                                      "'; its fields: " + fields);
        }
        return Value(*field, *table);
    }

    //! The header values and every field, like a line of `ringdump watch --json`: copies, as
    //! every value read from an event is, so the dict stays valid after the event.
    py::dict AsDict()
    {
        py::dict d;
        d["ring"] = ring();
        d["event"] = event();
        d["seq"] = seq();
        d["ts_ns"] = ts_ns();
        d["unix_ns"] = unix_ns();
        d["lost_before"] = lost_before();
        d["truncated"] = truncated();
        const flatbuffers::Table* table = Table();
        if (!table) {
            d["type"] = type();
            d["payload"] = Bytes(m_record.record.payload);
            return d;
        }
        for (const reflection::Field* f : Fields()) {
            d[py::str(f->name()->str())] = Value(*f, *table);
        }
        return d;
    }

    py::list Dir()
    {
        py::list names;
        for (const char* n : {"ring", "event", "type", "seq", "ts_ns", "unix_ns", "lost_before",
                              "truncated", "as_dict"}) {
            names.append(n);
        }
        if (!Table()) {
            names.append("payload");
        } else {
            for (const reflection::Field* f : Fields())
                names.append(f->name()->str());
        }
        return names;
    }

    //! Header attribute number `i` (HEADER_ATTRS).
    py::object Header(long i) const
    {
        switch (i) {
        case 0:
            return ring();
        case 1:
            return event();
        case 2:
            return py::int_(type());
        case 3:
            return py::int_(seq());
        case 4:
            return py::int_(ts_ns());
        case 5:
            return py::int_(unix_ns());
        case 6:
            return py::int_(lost_before());
        case 7:
            return py::bool_(truncated());
        }
        return py::none();
    }

    std::string Repr() const
    {
        return "<tracering.Event " + Name() + " seq=" + std::to_string(seq()) + ">";
    }

private:
    std::string Name() const
    {
        return py::cast<std::string>(ring()) + ":" + py::cast<std::string>(event());
    }

    //! The verified table, or nullptr for a type the schema does not know. Raises once the
    //! event is no longer current, or if its payload is not a valid table (Corrupt).
    const flatbuffers::Table* Table()
    {
        if (m_generation != m_state->generation) {
            Raise(Error{ErrorCode::InvalidArgument,
                        "event " + Name() + " seq " + std::to_string(seq()) +
                            " is no longer current: its record went back to the producer when "
                            "the next events were read; keep ev.as_dict(), or the fields read "
                            "while it was current, instead of the event"});
        }
        if (!m_decoded) {
            m_table = Take(m_state->formatter->Decode(m_record.record));
            m_decoded = true;
        }
        return m_table;
    }

    const reflection::Object& Object() const
    {
        const int32_t index = m_state->formatter->schema().TableIndexOf(m_record.record.type);
        return *m_state->formatter->schema().schema().objects()->Get(uint32_t(index));
    }

    const std::vector<const reflection::Field*>& Fields() const
    {
        const int32_t index = m_state->formatter->schema().TableIndexOf(m_record.record.type);
        return m_state->formatter->schema().FieldsInOrder(uint32_t(index));
    }

    //! Bytes of the record, copied: the ring's space goes back to the producer when the next
    //! events are read, and a view into it would change under its holder.
    static py::bytes Bytes(std::span<const uint8_t> bytes)
    {
        return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }

    //! The value of `field`, copied out of the ring.
    py::object Value(const reflection::Field& field, const flatbuffers::Table& table)
    {
        const FieldValue v = m_state->formatter->ValueOf(field, table);
        switch (v.kind) {
        case FieldValue::Kind::Null:
            return py::none();
        case FieldValue::Kind::Scalar:
            if (field.type()->base_type() == reflection::Bool) return py::bool_(v.scalar.bits);
            if (v.enum_value) return m_state->EnumName(v.enum_value);
            if (v.scalar.is_float) return py::float_(v.scalar.real);
            if (v.scalar.is_signed) return py::int_(int64_t(v.scalar.bits));
            return py::int_(v.scalar.bits);
        case FieldValue::Kind::String:
            // Invalid UTF-8 is replaced by U+FFFD, as in ringdump's JSON.
            return py::reinterpret_steal<py::object>(
                PyUnicode_DecodeUTF8(v.text.data(), Py_ssize_t(v.text.size()), "replace"));
        case FieldValue::Kind::Bytes:
            return Bytes(v.bytes);
        case FieldValue::Kind::Hash: {
            std::string hex;
            ringdump::AppendHex(hex, v.bytes, /*reversed=*/true);
            return py::str(hex);
        }
        case FieldValue::Kind::Composite: {
            std::string json;
            if (auto ok = m_state->formatter->AppendFieldJson(json, field, table); !ok) {
                Raise(ok.error());
            }
            return py::module_::import("json").attr("loads")(json);
        }
        }
        return py::none();
    }

    std::shared_ptr<SessionState> m_state;
    Record m_record;
    uint64_t m_generation;
    const flatbuffers::Table* m_table{nullptr};
    bool m_decoded{false};
};

PyObject* Event::GetAttr(PyObject* self, PyObject* name)
{
    try {
        auto* instance = reinterpret_cast<py::detail::instance*>(self);
        Event& ev = *static_cast<Event*>(instance->get_value_and_holder().value_ptr());
        const SessionState::TypeAttrs& attrs = ev.m_state->TypeOf(ev.type());
        PyObject* slot = PyDict_GetItemWithError(attrs.names.ptr(), name);
        if (!slot) {
            if (PyErr_Occurred()) return nullptr;
            PyObject* generic = PyObject_GenericGetAttr(self, name);
            if (generic || !PyErr_ExceptionMatches(PyExc_AttributeError)) return generic;
            PyErr_Clear();
            return ev.Field(py::cast<std::string>(name)).release().ptr();
        }
        const long i = PyLong_AsLong(slot);
        if (i < 0) return ev.Header(-1 - i).release().ptr();
        const flatbuffers::Table* table = ev.Table(); // known type: never nullptr
        return ev.Value(*(*attrs.fields)[size_t(i)], *table).release().ptr();
    } catch (py::error_already_set& e) {
        e.restore();
    } catch (py::builtin_exception& e) {
        e.set_error();
    } catch (const std::exception& e) {
        PyErr_SetString(PyExc_RuntimeError, e.what());
    }
    return nullptr;
}

//! The Python session: a context manager whose end gives the lease back.
class PySession
{
public:
    explicit PySession(std::shared_ptr<SessionState> state) : m_state{std::move(state)} {}
    ~PySession()
    {
        // Leaving the lease to the garbage collector would hold the rings on for as long as
        // an event lives; the session object going away ends it.
        if (m_state->client->owner == std::this_thread::get_id()) m_state->Close();
    }

    //! The next event, or nullopt after `timeout` seconds without one. Raises the readers'
    //! error once every reader failed and everything before it was read.
    std::optional<Event> Next(std::optional<double> timeout)
    {
        m_state->CheckOpen();
        std::optional<Record> r = m_state->WaitTake(BATCH, DeadlineAfter(timeout));
        if (!r) {
            if (m_state->AllFailed()) m_state->RaiseReaderError();
            return std::nullopt;
        }
        return Event{m_state, *r};
    }

    //! Up to `max_events` events, waiting at most `timeout` seconds for the first. They stay
    //! current until the next call to poll(), events() or count().
    py::list Poll(size_t max_events, double timeout)
    {
        m_state->CheckOpen();
        py::list out;
        if (max_events == 0) return out;
        // Events fetched and not handed out yet come first; a fetch (which ends the events
        // handed out before) happens only for the first event of the list.
        const size_t fetch_limit = std::max(BATCH, max_events);
        std::optional<Record> r = m_state->WaitTake(fetch_limit, DeadlineAfter(timeout));
        if (!r) {
            if (m_state->AllFailed()) m_state->RaiseReaderError();
            return out;
        }
        do {
            out.append(py::cast(Event{m_state, *r}));
        } while (out.size() < max_events && (r = m_state->Take(/*may_fetch=*/false, fetch_limit)));
        return out;
    }

    //! Reads and counts events without making Python objects: stops at `max_events`, or once
    //! none came for `timeout` seconds. Runs without the GIL.
    uint64_t Count(std::optional<uint64_t> max_events, std::optional<double> timeout)
    {
        m_state->CheckOpen();
        uint64_t n = m_state->Queued();
        m_state->ReleaseAll();
        const uint64_t limit = max_events.value_or(UINT64_MAX);
        auto deadline = DeadlineAfter(timeout);
        Backoff backoff;
        while (n < limit) {
            size_t got = 0;
            const auto check_at = std::chrono::steady_clock::now() + SIGNAL_CHECK_INTERVAL;
            {
                py::gil_scoped_release unlocked;
                while (n < limit && std::chrono::steady_clock::now() < check_at) {
                    got = 0;
                    double fill = 0;
                    for (size_t i = 0; i < m_state->readers.size(); ++i) {
                        if (m_state->errors[i]) continue;
                        const size_t asked = size_t(std::min<uint64_t>(limit - n, 4096));
                        auto polled = m_state->readers[i]->Poll([](const EventView&) {}, asked);
                        // Fewer than asked: at the end of the ring (see Fetch).
                        if (!polled || polled.value() < asked) {
                            m_state->readers[i]->UnreportedLost();
                        }
                        if (!polled) {
                            m_state->errors[i] = polled.error();
                            m_state->error_order.push_back(i);
                            continue;
                        }
                        got += polled.value();
                        n += polled.value();
                        fill = std::max(fill, m_state->readers[i]->TakeReadFill());
                    }
                    if (m_state->AllFailed()) break;
                    if (got) {
                        deadline = DeadlineAfter(timeout);
                    } else if (deadline && std::chrono::steady_clock::now() >= *deadline) {
                        break;
                    }
                    backoff.Idle(got, fill);
                }
            }
            if (m_state->AllFailed()) m_state->RaiseReaderError();
            if (got == 0 && deadline && std::chrono::steady_clock::now() >= *deadline) break;
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
        return n;
    }

    //! Per ring: this reader's counters (delivered, lost, bytes, skipped, unknown); lost as
    //! SessionState::LostOf counts it.
    py::dict Stats()
    {
        py::dict out;
        for (size_t i = 0; i < m_state->readers.size(); ++i) {
            const uint64_t lost = m_state->LostOf(i);
            const ReaderStats& s = m_state->readers[i]->stats();
            py::dict d;
            d["delivered"] = s.delivered;
            d["lost"] = lost;
            d["bytes"] = s.bytes;
            d["skipped"] = s.skipped;
            d["unknown"] = s.unknown;
            // A record a producer thread reserved and has not finished for a second or more
            // (RingReader::StuckWriter()): nothing after it is delivered until it is.
            const auto stuck = m_state->readers[i]->StuckWriter();
            d["stuck_ns"] = stuck ? stuck->stuck_ns : 0;
            d["stuck_position"] = stuck ? stuck->position : 0;
            d["stuck_bytes_waiting"] = stuck ? stuck->bytes_waiting : 0;
            out[m_state->ring_names[i]] = d;
        }
        return out;
    }

    uint64_t Lost()
    {
        uint64_t lost = 0;
        for (size_t i = 0; i < m_state->readers.size(); ++i)
            lost += m_state->LostOf(i);
        return lost;
    }

    void Close()
    {
        m_state->client->CheckThread();
        m_state->Close();
    }
    bool closed() const { return m_state->closed; }
    py::list Rings() const
    {
        py::list out;
        for (const py::object& n : m_state->ring_names)
            out.append(n);
        return out;
    }

private:
    std::shared_ptr<SessionState> m_state;
};

//! The iterator of session.events(timeout).
struct EventIterator {
    PySession* session; // kept alive by keep_alive<0, 1> on events()
    std::optional<double> timeout;

    //! tp_iternext: the next event, or nullptr without an error set at the end.
    static PyObject* IterNext(PyObject* self)
    {
        try {
            auto* instance = reinterpret_cast<py::detail::instance*>(self);
            auto& it = *static_cast<EventIterator*>(instance->get_value_and_holder().value_ptr());
            std::optional<Event> ev = it.session->Next(it.timeout);
            if (!ev) return nullptr;
            return py::cast(std::move(*ev)).release().ptr();
        } catch (py::error_already_set& e) {
            e.restore();
        } catch (py::builtin_exception& e) {
            e.set_error();
        } catch (const std::exception& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
        return nullptr;
    }
};

class PyClient
{
public:
    explicit PyClient(std::shared_ptr<ClientState> state) : m_state{std::move(state)} {}

    const ProducerDescription& producer() const { return m_state->client->producer(); }
    const std::string& socket_path() const { return m_state->client->socket_path(); }

    std::vector<RingInfo> Rings()
    {
        m_state->CheckThread();
        return Take(m_state->client->Rings());
    }

    std::unique_ptr<PySession> Attach(const std::vector<std::string>& rings,
                                      std::optional<std::vector<std::string>> events, bool lossless,
                                      uint64_t payload_limit,
                                      std::optional<uint32_t> lossless_wait_ms)
    {
        m_state->CheckThread();
        if (rings.empty()) {
            Raise(Error{ErrorCode::InvalidArgument, "attach() needs at least one ring name"});
        }
        std::vector<RingRequest> requests;
        for (const std::string& ring : rings) {
            RingRequest r{.ring = ring, .lossless = lossless, .payload_limit = payload_limit};
            if (lossless_wait_ms) r.lossless_wait_ms = *lossless_wait_ms;
            requests.push_back(std::move(r));
        }
        if (events) AssignEvents(requests, *events);
        auto state = std::make_shared<SessionState>();
        state->client = m_state;
        state->session = Take(m_state->client->Attach(requests));
        auto schema =
            Take(EventSchema::FromProducer_untrusted({state->session->consumer().schema().begin(),
                                                      state->session->consumer().schema().end()}));
        state->clock_offset_ns = UnixClockOffsetNow();
        state->formatter.emplace(std::move(schema), ringdump::Style::Json, state->clock_offset_ns);
        for (const auto& reader : state->session->readers()) {
            state->readers.push_back(reader.get());
            state->ring_names.push_back(py::str(reader->name()));
            state->errors.emplace_back();
            state->queues.emplace_back();
            state->limited.push_back(false);
            state->latest_ns.push_back(0);
        }
        return std::make_unique<PySession>(std::move(state));
    }

private:
    //! Gives each ring request the events of `events` that are its own: "ring:event" names
    //! go to that ring, bare names to every requested ring that has an event of that name.
    void AssignEvents(std::vector<RingRequest>& requests, const std::vector<std::string>& events)
    {
        const std::vector<RingInfo> infos = Take(m_state->client->Rings());
        for (const std::string& spec : events) {
            const size_t colon = spec.find(':');
            const std::string ring = colon == std::string::npos ? "" : spec.substr(0, colon);
            const std::string name = colon == std::string::npos ? spec : spec.substr(colon + 1);
            bool used = false;
            std::string known;
            for (RingRequest& r : requests) {
                if (!ring.empty() && r.ring != ring) continue;
                for (const RingInfo& info : infos) {
                    if (info.name != r.ring) continue;
                    for (const RingEvent& e : info.events) {
                        known += (known.empty() ? "" : ", ") + info.name + ":" + e.name;
                        if (e.name == name) {
                            r.events.push_back(name);
                            used = true;
                        }
                    }
                }
            }
            if (!used) {
                Raise(Error{ErrorCode::InvalidArgument,
                            "event '" + spec +
                                "' is not an event of the rings attached; they have " +
                                (known.empty() ? "none" : known)});
            }
        }
        for (const RingRequest& r : requests) {
            if (r.events.empty()) {
                Raise(Error{ErrorCode::InvalidArgument,
                            "none of the events asked for is in ring '" + r.ring +
                                "'; name one of its events, or leave the ring out"});
            }
        }
    }

    std::shared_ptr<ClientState> m_state;
};

PyClient Connect(const std::string& socket_path, double timeout)
{
    auto state = std::make_shared<ClientState>();
    state->owner = std::this_thread::get_id();
    Result<std::unique_ptr<ControlClient>> client{Error{ErrorCode::SystemError, ""}};
    {
        py::gil_scoped_release unlocked;
        client = ControlClient::Connect(
            socket_path, std::chrono::milliseconds(int64_t(std::max(timeout, 0.0) * 1000)));
    }
    state->client = Take(std::move(client));
    return PyClient{std::move(state)};
}

std::string Hex64(uint64_t v)
{
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string StabilityName(Stability s)
{
    switch (s) {
    case Stability::Experimental:
        return "experimental";
    case Stability::SemiStable:
        return "semi-stable";
    case Stability::Unknown:
        break;
    }
    return "unknown";
}

} // namespace
} // namespace tracering::python

PYBIND11_MODULE(_tracering, m)
{
    using namespace tracering;
    using namespace tracering::python;
    m.doc() = "Native part of the tracering package; use `import tracering`.";

    m.def("_set_error_classes", [](py::dict classes) {
        if (!g_error_classes) g_error_classes = new py::dict();
        *g_error_classes = std::move(classes);
    });

    py::class_<ProducerDescription>(m, "Producer")
        .def_property_readonly("pid", [](const ProducerDescription& p) { return p.producer_pid; })
        .def_readonly("segment", &ProducerDescription::segment_name)
        .def_readonly("abi", &ProducerDescription::abi_version)
        .def_readonly("schema_hash", &ProducerDescription::schema_hash)
        .def_readonly("start_time", &ProducerDescription::producer_start_time)
        .def("__repr__", [](const ProducerDescription& p) {
            return "<tracering.Producer pid=" + std::to_string(p.producer_pid) + " segment='" +
                   p.segment_name + "' abi=" + std::to_string(p.abi_version) +
                   " schema_hash=" + Hex64(p.schema_hash) + ">";
        });

    py::class_<ReaderInfo>(m, "Reader")
        .def_readonly("pid", &ReaderInfo::pid)
        .def_readonly("uid", &ReaderInfo::uid)
        .def_readonly("lossless", &ReaderInfo::lossless)
        .def_readonly("downgraded", &ReaderInfo::downgraded)
        .def_readonly("payload_limit", &ReaderInfo::payload_limit)
        .def_readonly("unread_bytes", &ReaderInfo::unread_bytes)
        .def_readonly("idle_ns", &ReaderInfo::idle_ns)
        .def("__repr__", [](const ReaderInfo& r) {
            return "<tracering.Reader pid=" + std::to_string(r.pid) + ">";
        });

    py::class_<RingInfo>(m, "Ring")
        .def_readonly("name", &RingInfo::name)
        .def_property_readonly("stability",
                               [](const RingInfo& r) { return StabilityName(r.stability); })
        .def_readonly("capacity", &RingInfo::capacity)
        .def_readonly("max_record", &RingInfo::max_record)
        .def_readonly("enabled", &RingInfo::enabled)
        .def_readonly("lossless", &RingInfo::lossless)
        .def_readonly("payload_limit", &RingInfo::payload_limit)
        .def_readonly("reader_count", &RingInfo::reader_count)
        .def_readonly("readers", &RingInfo::readers)
        .def_readonly("reader_pid", &RingInfo::reader_pid)
        .def_readonly("unread_bytes", &RingInfo::unread_bytes)
        .def_readonly("reader_idle_ns", &RingInfo::reader_idle_ns)
        .def_readonly("seq", &RingInfo::seq)
        .def_property_readonly("dropped", &RingInfo::dropped)
        .def_readonly("dropped_full", &RingInfo::dropped_full)
        .def_readonly("dropped_too_big", &RingInfo::dropped_too_big)
        .def_readonly("dropped_reader_reset", &RingInfo::dropped_reader_reset)
        .def_readonly("dropped_timeout", &RingInfo::dropped_timeout)
        .def_readonly("cursor_violations", &RingInfo::cursor_violations)
        .def_readonly("truncated", &RingInfo::truncated)
        .def_readonly("readers_evicted", &RingInfo::readers_evicted)
        .def_property_readonly("events",
                               [](const RingInfo& r) {
                                   std::vector<std::string> names;
                                   for (const RingEvent& e : r.events)
                                       names.push_back(e.name);
                                   return names;
                               })
        .def("__repr__", [](const RingInfo& r) {
            return "<tracering.Ring " + r.name + (r.enabled ? " on" : " off") +
                   " readers=" + std::to_string(r.reader_count) + " seq=" + std::to_string(r.seq) +
                   " dropped=" + std::to_string(r.dropped()) + ">";
        });

    py::class_<Event> event_class(m, "Event");
    event_class.def_property_readonly("ring", &Event::ring)
        .def_property_readonly("event", &Event::event)
        .def_property_readonly("type", &Event::type)
        .def_property_readonly("seq", &Event::seq)
        .def_property_readonly("ts_ns", &Event::ts_ns)
        .def_property_readonly("unix_ns", &Event::unix_ns)
        .def_property_readonly("lost_before", &Event::lost_before)
        .def_property_readonly("truncated", &Event::truncated)
        .def("as_dict", &Event::AsDict)
        .def("__dir__", &Event::Dir)
        .def("__repr__", &Event::Repr);
    // Fields are attributes by their schema names: a slot of our own instead of __getattr__,
    // which Python calls only after a failed lookup has raised and cleared an AttributeError.
    auto* event_type = reinterpret_cast<PyTypeObject*>(event_class.ptr());
    event_type->tp_getattro = &Event::GetAttr;
    PyType_Modified(event_type);

    py::class_<EventIterator> iterator_class(m, "_EventIterator");
    iterator_class.def("__iter__", [](EventIterator& it) -> EventIterator& { return it; })
        .def("__next__", [](EventIterator& it) {
            std::optional<Event> ev = it.session->Next(it.timeout);
            if (!ev) throw py::stop_iteration();
            return std::move(*ev);
        });
    // A for-loop calls the slot directly: no pybind11 dispatch per event.
    auto* iterator_type = reinterpret_cast<PyTypeObject*>(iterator_class.ptr());
    iterator_type->tp_iternext = &EventIterator::IterNext;
    PyType_Modified(iterator_type);

    py::class_<PySession>(m, "Session")
        .def(
            "events",
            [](PySession& s, std::optional<double> timeout) {
                return EventIterator{&s, timeout};
            },
            py::arg("timeout") = py::none(), py::keep_alive<0, 1>())
        .def("poll", &PySession::Poll, py::arg("max_events") = 1024, py::arg("timeout") = 0.0)
        .def("count", &PySession::Count, py::arg("max_events") = py::none(),
             py::arg("timeout") = 1.0)
        .def("stats", &PySession::Stats)
        .def_property_readonly("lost", &PySession::Lost)
        .def_property_readonly("rings", &PySession::Rings)
        .def_property_readonly("closed", &PySession::closed)
        .def("close", &PySession::Close)
        .def(
            "__enter__", [](PySession& s) -> PySession& { return s; },
            py::return_value_policy::reference)
        .def("__exit__", [](PySession& s, py::object, py::object, py::object) {
            s.Close();
            return false;
        });

    py::class_<PyClient>(m, "Client")
        .def_property_readonly("producer", &PyClient::producer)
        .def_property_readonly("socket_path", &PyClient::socket_path)
        .def("rings", &PyClient::Rings)
        .def("attach", &PyClient::Attach, py::arg("rings"), py::arg("events") = py::none(),
             py::arg("lossless") = false, py::arg("payload_limit") = 0,
             py::arg("lossless_wait_ms") = py::none());

    m.def("connect", &Connect, py::arg("socket_path"), py::arg("timeout") = 5.0);
}
