// A rank's death, seen at once: every rank holds a TCP connection to rank 0's watchdog, which the
// kernel closes when the process ends, however it ends (SIGKILL, a crash, the OOM killer). Rank 0
// reads the close within a beat, instead of waiting ZS_HANG_TIMEOUT for the beats to stop. (A host
// that vanishes without closing its connections is still found by its missing beats.)
#pragma once

#include <map>
#include <string>
#include <vector>

namespace zs {

// Rank 0's end: a listening socket on a free port, and the ranks' connections to it.
class LivenessListener {
 public:
  LivenessListener();  // throws std::runtime_error when no socket can be made
  ~LivenessListener();
  int port() const { return port_; }
  // Takes new connections, reads the ones there, and returns the ranks whose connection closed since
  // the last call. Never blocks.
  std::vector<int> closed_ranks();

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::map<int, int> rank_of_;            // fd -> rank (-1 until its first line arrived)
  std::map<int, std::string> partial_;    // fd -> bytes of its first line so far
};

// Every other rank's end: a connection to rank 0's listener, telling it which rank this is.
class LivenessLink {
 public:
  LivenessLink(const std::string& host, int port, int rank);  // throws std::runtime_error
  ~LivenessLink();
  LivenessLink(const LivenessLink&) = delete;
  LivenessLink& operator=(const LivenessLink&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace zs
