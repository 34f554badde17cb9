// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_E2E_RINGDUMP_HARNESS_H
#define TRACERING_TESTS_E2E_RINGDUMP_HARNESS_H

//! @file
//! What ringdump's end-to-end tests (ringdump_test.cpp) run it with: ringdump_test_producer
//! driven one command at a time (TestProducer), ringdump as a process (Ringdump, RunRingdump),
//! scratch directories and files, and what `watch --json` must print for the known events
//! (CheckAllEvents), written out from the known values, not computed with ringdump's code.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "json.h"
#include "known_events.h"
#include "subprocess.h"
#include <sys/types.h>

namespace tracering::test::ringdump {

//! A name no other test (or concurrent test process) uses (UniqueName, marked as ringdump's).
std::string Unique(const std::string& what);
std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& bytes);

//! A scratch directory removed at the end of the test.
class TempDir
{
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

//! ringdump_test_producer, driven one command line at a time.
class TestProducer
{
public:
    //! `capacity`: of every ring, in bytes (0: the producer's default).
    explicit TestProducer(uint64_t capacity = 0);
    //! Closes its stdin (it exits); kills it and removes what it left if it does not exit.
    ~TestProducer();

    bool ready() const { return m_ready; }
    const std::string& control() const { return m_control; }
    const std::string& name() const { return m_name; }
    Subprocess& process() { return *m_process; }
    //! Sends one command line; the producer's answer line ("" on timeout).
    std::string Command(const std::string& line);
    //! "wait-on R...": waits until each of `rings` has a reader.
    std::string WaitOn(const std::vector<std::string>& rings);

private:
    std::string m_name;
    std::string m_control;
    std::unique_ptr<Subprocess> m_process;
    bool m_ready{false};
};

//! A running ringdump: stdout through a pipe, stderr to a file.
class Ringdump
{
public:
    //! With `stdout_to_file`, the output goes to a file read by Stdout() after the end (it
    //! may hold empty lines, which ReadLine() cannot tell from the end of the output).
    explicit Ringdump(const std::vector<std::string>& args, bool stdout_to_file = false);
    ~Ringdump();
    Ringdump(const Ringdump&) = delete;
    Ringdump& operator=(const Ringdump&) = delete;

    //! The lines of the stdout file (with `stdout_to_file`).
    std::vector<std::string> Stdout() const;
    pid_t pid() const { return m_process->pid(); }
    std::string ReadLine(int timeout_ms = 15000) { return m_process->ReadLine(timeout_ms); }
    //! Every line up to the end of the output.
    std::vector<std::string> ReadAll(int timeout_ms = 20000);
    void Kill(int sig) { m_process->Kill(sig); }
    int Wait(int timeout_ms = 20000) { return m_process->Wait(timeout_ms); }
    std::string Stderr() const { return ReadFile(m_stderr); }

private:
    std::filesystem::path m_stderr;
    std::filesystem::path m_stdout;
    std::unique_ptr<Subprocess> m_process;
};

//! How a ringdump run ended: exit code, stdout lines, stderr.
struct Outcome {
    int code;
    std::vector<std::string> lines;
    std::string err;
};

//! Runs ringdump with `args` to completion.
Outcome RunRingdump(const std::vector<std::string>& args);

//! The state letter of a process ('T' when stopped), from /proc.
char ProcessState(pid_t pid);
//! Sends `sig` to process `pid` and waits, up to 10 s, until the process has taken it (it is
//! no longer pending: a handler ran, or the default action); whether it has.
bool SignalTaken(pid_t pid, int sig);
//! Runs `program` with `args` and its stdout to /dev/full (every write fails: no space left);
//! its exit code, and its stderr as `err`.
Outcome RunWithFullStdout(const std::string& program, const std::vector<std::string>& args);
//! Stops process `pid` (SIGSTOP) and waits, up to 2 s, until it is stopped; whether it is.
bool Suspend(pid_t pid);
//! Stops `ringdump` (SIGSTOP), has the producer of a 4 KiB ring flood it with 300 mempool
//! events, which it mostly drops, and continues it. The events the producer dropped.
uint64_t FloodWhileStopped(TestProducer& producer, Ringdump& ringdump);

//! Lower-case hex of `bytes`.
std::string Hex(const Bytes& bytes);
//! The usual display of a hash: its bytes last to first.
std::string DisplayHex(const Hash& hash);
//! The line with its ts_ns and unix_ns (which the test cannot know) set to 0.
std::string WithoutTimestamp(const std::string& line);
//! "ring:event" of a watch --json line ("" if it has neither).
std::string KeyOf(const Json& line);
//! What watch --json must print for each of the 20 known events, by "ring:event", with
//! ts_ns 0.
std::map<std::string, std::string> ExpectedEventLines();
//! Checks 20 watch/read --json lines against the known events; "" if they all match, else
//! what differs.
std::string CheckAllEvents(const std::vector<std::string>& lines);

} // namespace tracering::test::ringdump

#endif // TRACERING_TESTS_E2E_RINGDUMP_HARNESS_H
