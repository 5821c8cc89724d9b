// What ranks say about failures, in the order they say it, so zsrun's summary names the rank that
// failed first (not a healthy rank that noticed it later). Lines it reads (a rank's own text, or a
// node-local zsrun's line):
//   [zeroshard] watchdog on rank 0: rank 2 hangs: no heartbeat for 41 s (...); ending the job
//   [zeroshard] watchdog on rank 0: rank 2 died: its connection to rank 0's watchdog closed ...
//   [zeroshard] rank 3: exits with code 137 (killed by signal 9, Killed)     (rank shim, MPI exit hook)
//   zsrun[node2]: rank 3 on node2 exited with code 137 (killed by signal 9, SIGKILL); ...  (a node's zsrun)
//   [zeroshard] rank 0: all_reduce of 4 x float32 did not finish within 600 s; ...   (noticed, weaker)
//   [zeroshard] rank 0: aborting: ...                                                (noticed, weaker)
#pragma once

#include <optional>
#include <string>

namespace zs::launcher {

struct RankReport {
  enum class Kind { exited, hung, noticed };
  Kind kind = Kind::exited;
  int rank = -1;          // the rank that failed (for hung: the hung or dead rank the watchdog found)
  int exit_code = -1;     // exited: its code
  int signal = 0;         // exited: the signal that killed it, 0 when it exited
  int reporter = -1;      // hung: the rank whose watchdog found it
  std::string detail;     // hung: what the watchdog saw; noticed: the rank's message
};

class RankReports {
 public:
  // A line a rank printed (without zsrun's prefix), or a node-local zsrun's line.
  void feed(const std::string& text);
  // The first hang or exit reported; else the first rank that noticed a problem.
  std::optional<RankReport> first() const;
  // A hang or exit has been reported.
  bool has_failure() const { return first_.has_value(); }

 private:
  std::optional<RankReport> first_;
  std::optional<RankReport> first_noticed_;
};

// "[node2 rank 3] text" or "[rank 3] text" -> "text"; other lines unchanged.
std::string without_rank_prefix(const std::string& line);

}  // namespace zs::launcher
