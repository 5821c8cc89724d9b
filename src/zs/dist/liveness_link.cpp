#include "zs/dist/liveness_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace zs {

LivenessListener::LivenessListener() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("liveness socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listen_fd_, 1024) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    close(listen_fd_);
    throw std::runtime_error("liveness socket: " + why);
  }
  port_ = ntohs(addr.sin_port);
}

LivenessListener::~LivenessListener() {
  for (const auto& [fd, rank] : rank_of_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::vector<int> LivenessListener::closed_ranks() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) break;
    rank_of_[fd] = -1;
  }
  std::vector<int> closed;
  for (auto it = rank_of_.begin(); it != rank_of_.end();) {
    const int fd = it->first;
    char buf[64];
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (it->second < 0) {
        std::string& line = partial_[fd];
        line.append(buf, static_cast<size_t>(n));
        if (line.find('\n') != std::string::npos) {
          it->second = std::atoi(line.c_str());
          partial_.erase(fd);
        }
      }
      ++it;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      ++it;
      continue;
    }
    if (it->second >= 0) closed.push_back(it->second);  // end of stream or a reset: the rank is gone
    close(fd);
    partial_.erase(fd);
    it = rank_of_.erase(it);
  }
  return closed;
}

LivenessLink::LivenessLink(const std::string& host, int port, int rank) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("liveness link to " + host + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = found; a && fd_ < 0; a = a->ai_next) {
    fd_ = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) continue;
    if (connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      close(fd_);
      fd_ = -1;
    }
  }
  freeaddrinfo(found);
  if (fd_ < 0) throw std::runtime_error("liveness link to " + host + ":" + std::to_string(port) + ": " + why);
  const std::string line = std::to_string(rank) + "\n";
  if (write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    close(fd_);
    fd_ = -1;
    throw std::runtime_error("liveness link: cannot say which rank this is");
  }
}

LivenessLink::~LivenessLink() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace zs
