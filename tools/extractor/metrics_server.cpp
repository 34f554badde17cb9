// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "metrics_server.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "log.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tracering::extractor {
namespace {

//! The request line and headers Serve() reads at most before it answers.
constexpr size_t MAX_REQUEST = 8192;

int64_t NowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string ErrnoText(int error) { return std::strerror(error); }

void SendAll(int fd, std::string_view data)
{
    while (!data.empty()) {
        // Never blocks: a response (a few KiB) fits the socket's buffer unless the client
        // stopped reading, and then it gets what fitted.
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; // the scraper went away: nothing to tell it
        data.remove_prefix(size_t(n));
    }
}

} // namespace

Result<MetricsAddress> ParseMetricsAddress(const std::string& address)
{
    // HOST:PORT, with an IPv6 host in brackets.
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
        return Error{ErrorCode::InvalidArgument,
                     "--metrics-address '" + address + "' is not HOST:PORT (e.g. 127.0.0.1:8285)"};
    }
    MetricsAddress out;
    out.host = address.substr(0, colon);
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
        out.host = out.host.substr(1, out.host.size() - 2);
    }
    out.port = address.substr(colon + 1);
    uint16_t port = 0;
    const auto parsed = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
    if (parsed.ec != std::errc{} || parsed.ptr != out.port.data() + out.port.size()) {
        return Error{ErrorCode::InvalidArgument, "--metrics-address '" + address +
                                                     "': the port must be 0-65535, not '" +
                                                     out.port + "'"};
    }
    return out;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                            const Counters& counters)
{
    const Result<MetricsAddress> parsed = ParseMetricsAddress(address);
    if (!parsed) return parsed.error();
    const std::string& host = parsed.value().host;
    const std::string& port_text = parsed.value().port;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
        return Error{ErrorCode::InvalidArgument, "--metrics-address '" + address +
                                                     "': cannot resolve '" + host +
                                                     "': " + ::gai_strerror(rc)};
    }
    std::unique_ptr<MetricsServer> server{new MetricsServer{counters}};
    int error = 0;
    for (addrinfo* a = found; a && server->m_listen < 0; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            error = errno;
            continue;
        }
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
            error = errno;
            ::close(fd);
            continue;
        }
        server->m_listen = fd;
    }
    ::freeaddrinfo(found);
    if (server->m_listen < 0) {
        return Error{ErrorCode::SystemError,
                     "cannot listen on --metrics-address " + address + ": " + ErrnoText(error) +
                         (error == EADDRINUSE ? " (another program, or another extractor, has "
                                                "that port: give another one)"
                                              : "")};
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    ::getsockname(server->m_listen, reinterpret_cast<sockaddr*>(&bound), &length);
    char text[INET6_ADDRSTRLEN] = "?";
    uint16_t bound_port = 0;
    if (bound.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&bound);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
        bound_port = ntohs(in6->sin6_port);
        server->m_address = "[" + std::string{text} + "]:" + std::to_string(bound_port);
    } else {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(&bound);
        ::inet_ntop(AF_INET, &in4->sin_addr, text, sizeof(text));
        bound_port = ntohs(in4->sin_port);
        server->m_address = std::string{text} + ":" + std::to_string(bound_port);
    }
    if (::pipe2(server->m_wake, O_CLOEXEC) != 0) {
        return Error{ErrorCode::SystemError, "pipe for the metrics thread: " + ErrnoText(errno)};
    }
    server->m_thread = std::thread{[s = server.get()] { s->Serve(); }};
    return server;
}

MetricsServer::~MetricsServer()
{
    if (m_thread.joinable()) {
        const char byte = 0;
        (void)!::write(m_wake[1], &byte, 1);
        m_thread.join();
    }
    for (const int fd : {m_listen, m_wake[0], m_wake[1]}) {
        if (fd >= 0) ::close(fd);
    }
}

void MetricsServer::Serve()
{
    struct Client {
        int fd;
        int64_t deadline_ms;
        std::string request;
    };
    std::vector<Client> clients;
    auto close_client = [&](size_t i) {
        ::close(clients[i].fd);
        clients.erase(clients.begin() + std::ptrdiff_t(i));
    };
    std::vector<pollfd> fds;
    for (;;) {
        // The wake pipe, the listening socket while there is room, then the clients.
        const bool room = clients.size() < MAX_CLIENTS;
        fds.assign({{m_wake[0], POLLIN, 0}, {room ? m_listen : -1, POLLIN, 0}});
        int timeout = -1;
        const int64_t now = NowMs();
        for (const Client& c : clients) {
            fds.push_back({c.fd, POLLIN, 0});
            const int64_t left = std::max<int64_t>(0, c.deadline_ms - now);
            timeout = timeout < 0 ? int(left) : std::min(timeout, int(left));
        }
        if (::poll(fds.data(), fds.size(), timeout) < 0) {
            if (errno == EINTR) continue;
            Log(LogLevel::Error, "metrics endpoint stopped: poll: %s", ErrnoText(errno).c_str());
            break;
        }
        if (fds[0].revents) break;
        // Clients first (their indexes match fds from 2 on), newest last, so that erasing
        // walks backwards.
        const int64_t after = NowMs();
        for (size_t i = clients.size(); i-- > 0;) {
            Client& c = clients[i];
            if (fds[2 + i].revents) {
                char buffer[1024];
                const ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
                if (n <= 0) {
                    close_client(i); // the client went away
                    continue;
                }
                c.request.append(buffer, size_t(n));
                if (c.request.find("\r\n\r\n") != std::string::npos ||
                    c.request.size() >= MAX_REQUEST) {
                    SendAll(c.fd, Answer(c.request));
                    close_client(i);
                    continue;
                }
            }
            if (after >= c.deadline_ms) close_client(i); // too slow: unanswered
        }
        if (room && (fds[1].revents & POLLIN)) {
            const int connection = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
            // A failure: the client gave up already, or we are out of descriptors.
            if (connection >= 0) clients.push_back({connection, after + REQUEST_TIMEOUT_MS, {}});
        }
    }
    for (const Client& c : clients)
        ::close(c.fd);
}

std::string MetricsServer::Answer(const std::string& request) const
{
    // "GET /metrics HTTP/1.1": the method and the path, without a query.
    const size_t line_end = request.find("\r\n");
    const std::string_view line{request.data(), line_end == std::string::npos ? 0 : line_end};
    const size_t space = line.find(' ');
    const std::string_view method = line.substr(0, space);
    std::string_view path =
        space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    path = path.substr(0, path.find(' '));
    path = path.substr(0, path.find('?'));
    std::string status = "200 OK";
    std::string body;
    std::string type = "text/plain; version=0.0.4; charset=utf-8";
    if (method != "GET" && method != "HEAD") {
        status = "405 Method Not Allowed";
        type = "text/plain; charset=utf-8";
        body = "only GET /metrics\n";
    } else if (path != "/metrics" && path != "/") {
        status = "404 Not Found";
        type = "text/plain; charset=utf-8";
        body = "the metrics are at /metrics\n";
    } else {
        body = PrometheusText(m_counters);
    }
    std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                           "\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n";
    if (method != "HEAD") response += body;
    return response;
}

} // namespace tracering::extractor
