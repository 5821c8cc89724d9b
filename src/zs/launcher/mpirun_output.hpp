// Reading OpenMPI's mpirun output: the "[1,R]<stdout>:" tags that --tag-output puts on rank output,
// and mpirun's own report of the rank that failed first.
//
// mpirun tags what it reads from a rank's pipe, not lines: a piece that ends without '\n' (a rank's
// stdio buffer flushed mid-line, a progress bar, a line written in two calls) is followed directly by
// the next piece of any rank, which brings its own tag. One line of mpirun's output can so read
//   [1,0]<stdout>:loss 1.2[1,1]<stdout>:hello[1,0]<stdout>:34
// meaning rank 0's "loss 1.234" and the start of a rank 1 line. MpirunLineJoiner puts the pieces
// back together per rank and stream, so a tag never lands inside a line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zs::launcher {

struct TaggedLine {
  int rank = 0;
  bool is_stderr = false;   // <stderr> and <stddiag> lines
  std::string text;         // the rank's line, tag removed
};

// "[1,3]<stdout>:hello" -> {3, false, "hello"}; nullopt for mpirun's own (untagged) lines.
// Only for a line holding one whole piece; MpirunLineJoiner handles the general case.
std::optional<TaggedLine> parse_mpirun_tag(const std::string& line);

// What one line of mpirun's output turns into.
struct MpirunPieces {
  std::vector<TaggedLine> rank_lines;    // ranks' lines completed by it
  std::optional<std::string> own_line;   // mpirun's own text (no tag at its start)
};

// Reassembles ranks' lines from one of mpirun's output pipes (use one joiner per pipe).
class MpirunLineJoiner {
 public:
  // `line`: one line of mpirun's output, without its '\n'.
  MpirunPieces feed(const std::string& line);
  // End of output: ranks' unfinished lines.
  std::vector<TaggedLine> finish();

 private:
  std::map<std::pair<int, bool>, std::string> partial_;  // (rank, is_stderr) -> text so far
};

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
  // mpirun's report, if it gave one (the ranks' own reports: rank_reports.hpp).
  std::optional<RankFailure> failure() const { return failure_; }

 private:
  std::optional<RankFailure> failure_;
  int pending_rank_ = -1;   // rank named, its code still to come
};

}  // namespace zs::launcher
