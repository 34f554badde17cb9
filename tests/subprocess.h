// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_TESTS_SUBPROCESS_H
#define TRACERING_TESTS_SUBPROCESS_H

//! A child process with pipes to its stdin and from its stdout, for multi-process tests.

#include <string>
#include <vector>

#include <sys/types.h>

namespace tracering::test {

class Subprocess
{
public:
    explicit Subprocess(const std::vector<std::string>& argv);
    ~Subprocess();
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;

    bool started() const { return m_pid > 0; }
    pid_t pid() const { return m_pid; }
    //! Reads one line from the child's stdout (without '\n'); "" on EOF or timeout.
    std::string ReadLine(int timeout_ms = 10000);
    void WriteLine(const std::string& line);
    void CloseStdin();
    void Kill(int sig);
    //! Whether the child has not exited yet (reaps it if it has).
    bool Running();
    //! Waits for the child; its exit code, 128+signal if killed, -1 on timeout.
    int Wait(int timeout_ms = 10000);

private:
    pid_t m_pid{-1};
    int m_stdin{-1};
    int m_stdout{-1};
    std::string m_buffer;
    bool m_reaped{false};
    int m_status{0};
};

//! After a producer process was killed (a test that failed early, or one that kills it on
//! purpose): removes what only a clean shutdown removes, its shared-memory object and its
//! control socket, so nothing is left on the machine. Missing ones are fine.
void RemoveProducerLeftovers(const std::string& segment_name, const std::string& socket_path);

} // namespace tracering::test

#endif // TRACERING_TESTS_SUBPROCESS_H
