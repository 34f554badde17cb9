// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Fuzz target: the producer's control server (src/producer/control_server.cpp) reading what
// a client sends on its unix socket. A real producer serves its control socket from its own
// thread, as in the node; each input is the byte stream of one client connection (Cap'n
// Proto messages: bootstrap, calls to info, rings, attach, a session's stats and detach,
// finish, release...), sent on a new connection, which then shuts its sending side. The
// server must answer what it can and close the connection once the client has hung up; its
// answers (and any descriptors passed with them) are read and discarded.
//
// Besides ASan and UBSan (which see the server's thread): the server closes every connection
// within CLOSE_TIMEOUT_MS of the client's end of input, and still serves the next one.

#include <tracering/producer.h>

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <span>
#include <unistd.h>

#include "util.h"
#include <sys/socket.h>
#include <sys/un.h>

namespace tracering::fuzz {
namespace {

//! How long the server may take to close a connection after the client's input ended.
constexpr int CLOSE_TIMEOUT_MS = 5'000;

struct Fixture {
    std::filesystem::path dir = ScratchDirectory("control_server");
    std::unique_ptr<Producer> producer;

    Fixture()
    {
        ProducerOptions options;
        options.name = "fuzz-control-" + std::to_string(::getpid());
        options.capacities.fill(4096);
        options.install_global = false;
        options.control_socket = (dir / "control.sock").string();
        producer = Must(Producer::Create(options), "Producer::Create");
    }
};

int Connect(const std::string& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || path.size() >= sizeof(addr.sun_path)) Die("cannot make a socket for " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        Die("cannot connect to the control socket " + path + ": " + std::strerror(errno));
    }
    return fd;
}

void Run(std::span<const uint8_t> bytes)
{
    // Destroyed at exit (libFuzzer ends with exit()): the server stops, the segment goes.
    static Fixture f;
    const int fd = Connect(f.producer->ControlSocket());
    size_t sent = 0;
    bool shut = false;
    uint8_t sink[4096];
    for (;;) {
        if (sent == bytes.size() && !shut) {
            ::shutdown(fd, SHUT_WR);
            shut = true;
        }
        pollfd p{fd, short(POLLIN | (shut ? 0 : POLLOUT)), 0};
        const int ready = ::poll(&p, 1, CLOSE_TIMEOUT_MS);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            Die("the control server kept a connection open " + std::to_string(CLOSE_TIMEOUT_MS) +
                " ms after the client " + (shut ? "hung up" : "stopped being read"));
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            // A plain read: descriptors passed with the answers are closed by the kernel.
            const ssize_t n = ::read(fd, sink, sizeof(sink));
            if (n == 0) break;
            if (n < 0 && errno != EAGAIN && errno != EINTR) break; // reset by the server
        }
        if (!shut && (p.revents & POLLOUT)) {
            const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += size_t(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                shut = true; // the server closed the connection before reading everything
            }
        }
    }
    ::close(fd);
}

} // namespace
} // namespace tracering::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    tracering::fuzz::Run({data, size});
    return 0;
}
