// What this process's collectives are doing, for the hang watchdog (watchdog.hpp): how many have
// been started, which is the oldest still in flight and since when, and whether the rank is doing
// long work alone on purpose. Communicators report to it; the watchdog reads it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace zs {

struct ProgressSnapshot {
  uint64_t started = 0;          // collectives started so far (the job-wide sequence number)
  uint64_t oldest_open = 0;      // sequence number of the oldest unfinished one; 0 when none
  double open_for_s = 0;         // how long that one has been in flight
  std::string open_what;         // "all_reduce of 4 x float32"
  std::string last_what;         // the most recently started one
  double since_start_s = 0;      // time since the last collective was started
  bool solo = false;             // inside a SoloWorkScope
  std::string solo_what;
};

// The process's one record (every communicator of the process reports here).
class CollectiveProgress {
 public:
  // Returns the collective's sequence number.
  uint64_t started(const std::string& what);
  void finished(uint64_t seq);
  ProgressSnapshot snapshot() const;
};

CollectiveProgress& collective_progress();

// Marks work this rank does alone while its peers may wait for it in a collective (rank 0 writing a
// consolidated model, sampling text): the watchdog does not take the wait for a hang. A rank that
// stops beating is still found.
class SoloWorkScope {
 public:
  explicit SoloWorkScope(const std::string& what);
  ~SoloWorkScope();
  SoloWorkScope(const SoloWorkScope&) = delete;
  SoloWorkScope& operator=(const SoloWorkScope&) = delete;
};

}  // namespace zs
