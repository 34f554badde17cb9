// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "subprocess.h"

#include <tracering/producer.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <thread>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/wait.h>

extern char** environ;

namespace tracering::test {

Subprocess::Subprocess(const std::vector<std::string>& argv)
{
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&m_pid, args[0], &actions, nullptr, args.data(), environ) != 0) m_pid = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    m_stdin = in[1];
    m_stdout = out[0];
}

Subprocess::~Subprocess()
{
    if (m_pid > 0 && !m_reaped) {
        Kill(SIGKILL);
        Wait();
    }
    if (m_stdin >= 0) ::close(m_stdin);
    if (m_stdout >= 0) ::close(m_stdout);
}

std::string Subprocess::ReadLine(int timeout_ms)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const size_t nl = m_buffer.find('\n');
        if (nl != std::string::npos) {
            std::string line = m_buffer.substr(0, nl);
            m_buffer.erase(0, nl + 1);
            return line;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0 || m_stdout < 0) return {};
        pollfd p{m_stdout, POLLIN, 0};
        if (::poll(&p, 1, int(left)) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(m_stdout, buf, sizeof(buf));
        if (n <= 0) return {};
        m_buffer.append(buf, size_t(n));
    }
}

void Subprocess::WriteLine(const std::string& line)
{
    const std::string data = line + "\n";
    if (m_stdin >= 0) (void)!::write(m_stdin, data.data(), data.size());
}

void Subprocess::CloseStdin()
{
    if (m_stdin >= 0) ::close(m_stdin);
    m_stdin = -1;
}

void Subprocess::Kill(int sig)
{
    if (m_pid > 0 && !m_reaped) ::kill(m_pid, sig);
}

bool Subprocess::Running()
{
    if (m_pid <= 0 || m_reaped) return false;
    if (::waitpid(m_pid, &m_status, WNOHANG) == m_pid) m_reaped = true;
    return !m_reaped;
}

int Subprocess::Wait(int timeout_ms)
{
    if (m_pid <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!m_reaped) {
        const pid_t r = ::waitpid(m_pid, &m_status, WNOHANG);
        if (r == m_pid) {
            m_reaped = true;
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (WIFEXITED(m_status)) return WEXITSTATUS(m_status);
    if (WIFSIGNALED(m_status)) return 128 + WTERMSIG(m_status);
    return -1;
}

void RemoveProducerLeftovers(const std::string& segment_name, const std::string& socket_path)
{
    if (!segment_name.empty()) {
        ::shm_unlink(("/" + SegmentObjectName(segment_name)).c_str());
    }
    if (!socket_path.empty()) ::unlink(socket_path.c_str());
}

} // namespace tracering::test
