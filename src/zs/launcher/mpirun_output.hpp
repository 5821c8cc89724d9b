// Reading OpenMPI's mpirun output: the "[1,R]<stdout>:" tags that --tag-output puts on rank lines,
// and mpirun's own report of the rank that failed first.
#pragma once

#include <optional>
#include <string>

namespace zs::launcher {

struct TaggedLine {
  int rank = 0;
  bool is_stderr = false;   // <stderr> and <stddiag> lines
  std::string text;         // the rank's line, tag removed
};

// "[1,3]<stdout>:hello" -> {3, false, "hello"}; nullopt for mpirun's own (untagged) lines.
std::optional<TaggedLine> parse_mpirun_tag(const std::string& line);

struct RankFailure {
  int rank = -1;
  int exit_code = 0;        // 128+signal for a rank killed by a signal
  int signal = 0;           // 0 when it exited
};

// Follows mpirun's untagged lines and remembers the first rank failure it reports:
//   "Process name: [[30860,1],1]" + "Exit code:    3"
//   "mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 11 (...)"
//   "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD" + "with errorcode 1."
class MpirunFailureParser {
 public:
  void feed(const std::string& untagged_line);
  // A rank's own line; ZeroShard's "[zeroshard] rank R: ..." timeout/abort reports name the rank
  // that called MPI_Abort even when mpirun fails to print its own report (it sometimes does).
  void feed_rank_line(int rank, const std::string& text);
  // mpirun's report if it gave one, else the rank that reported an abort (with mpirun's exit code).
  std::optional<RankFailure> failure(int mpirun_exit_code) const;

 private:
  std::optional<RankFailure> failure_;
  int aborting_rank_ = -1;
  int aborting_code_ = -1;  // the code the rank said it exits with; -1: MPI_Abort's (mpirun's)
  int pending_rank_ = -1;   // rank named, its code still to come
};

}  // namespace zs::launcher
