// The hang watchdog: every rank beats through the job's TCP store, so a rank that is stopped, frozen
// or stuck outside the collectives its peers wait in is found within seconds of ZS_HANG_TIMEOUT,
// not at the end of a long collective timeout.
//
// Each rank publishes, every second, a beat counter and its collective progress
// (collective_progress.hpp). Rank 0, which serves the store, reads every rank's beat and ends the job
// when
//   - a rank's beat has not moved for ZS_HANG_TIMEOUT seconds (stopped, frozen or gone), or
//   - a rank has waited that long in collective k while another rank, not in solo work, has not
//     started collective k and has started none for that long (stuck outside collectives).
// The other ranks watch the store itself: a store that does not answer for that long means rank 0 is
// stopped or frozen, one that is gone means rank 0 died. Every rank also holds a TCP connection to
// rank 0's watchdog (liveness_link.hpp): a rank that dies, however, closes it, and rank 0 ends the
// job within a beat, whether or not a launcher would. Whoever finds a hang prints
//   [zeroshard] watchdog on rank 0: rank 2 hangs: no heartbeat for 41 s (...); ending the job
// publishes it (the others read it within a second, print it and end too), aborts its communicator
// (NCCL: ncclCommAbort, so no kernel waits on) and exits with code 1; the launcher ends whatever is
// left (zsrun, mpirun and srun --kill-on-bad-exit stop every rank once one exits non-zero).
//
// ZS_HANG_TIMEOUT: seconds (default 40; 0 turns the watchdog off).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace zs {

struct WatchdogOptions {
  double hang_timeout_s = 40;
  double beat_interval_s = 1;
};

// ZS_HANG_TIMEOUT from the environment; hang_timeout_s == 0 means off. Throws on a bad value.
WatchdogOptions watchdog_options_from_env();

class Watchdog {
 public:
  // `store`: the job's store (rank 0 serves it). `end_job(message)`: aborts this rank's communicator
  // and ends the process with a non-zero code; it must not return.
  Watchdog(c10::intrusive_ptr<c10d::Store> store, std::string store_address, int rank, int world_size,
           WatchdogOptions options, std::function<void(const std::string&)> end_job);
  // A rank done with its collectives says so; rank 0 then serves the store until every rank is
  // done (or found hung), so no rank takes its leaving for a death.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Ends beating the way the destructor does (also called at a process exit with code 0).
  void finish();
  // At a process exit with an error: the peers read "rank R exited with code C" and end too.
  void leave_failed(int status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts the process's watchdog unless ZS_HANG_TIMEOUT=0 or the world has one rank. The watchdog
// also finishes at a normal process exit (a program that never destroys its World).
std::shared_ptr<Watchdog> start_watchdog(c10::intrusive_ptr<c10d::Store> store, std::string store_address, int rank,
                                         int world_size, std::function<void(const std::string&)> end_job);

}  // namespace zs
