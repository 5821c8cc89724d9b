#include "zs/launcher/mpirun_output.hpp"

#include <cstdlib>
#include <regex>

namespace zs::launcher {

std::optional<TaggedLine> parse_mpirun_tag(const std::string& line) {
  // [jobid,rank]<stream>:text
  if (line.size() < 8 || line[0] != '[') return std::nullopt;
  size_t comma = line.find(',');
  size_t close = line.find(']');
  if (comma == std::string::npos || close == std::string::npos || comma > close) return std::nullopt;
  if (close + 1 >= line.size() || line[close + 1] != '<') return std::nullopt;
  size_t stream_end = line.find(">:", close);
  if (stream_end == std::string::npos) return std::nullopt;
  std::string rank_text = line.substr(comma + 1, close - comma - 1);
  if (rank_text.empty() || rank_text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  TaggedLine tagged;
  tagged.rank = std::atoi(rank_text.c_str());
  tagged.is_stderr = line.compare(close + 2, stream_end - close - 2, "stdout") != 0;
  tagged.text = line.substr(stream_end + 2);
  return tagged;
}

void MpirunFailureParser::feed(const std::string& line) {
  if (failure_) return;
  static const std::regex process_name(R"(Process name:\s*\[\[\d+,\d+\],(\d+)\])");
  static const std::regex exit_code(R"(Exit code:\s*(-?\d+))");
  static const std::regex on_signal(R"(process rank (\d+) with PID \d+ on node \S+ exited on signal (\d+))");
  static const std::regex abort_rank(R"(MPI_ABORT was invoked on rank (\d+))");
  static const std::regex abort_code(R"(errorcode (-?\d+))");
  std::smatch m;
  if (std::regex_search(line, m, on_signal)) {
    int sig = std::stoi(m[2]);
    failure_ = RankFailure{std::stoi(m[1]), 128 + sig, sig};
    return;
  }
  if (std::regex_search(line, m, process_name)) pending_rank_ = std::stoi(m[1]);
  if (std::regex_search(line, m, abort_rank)) pending_rank_ = std::stoi(m[1]);
  if (pending_rank_ >= 0) {
    if (std::regex_search(line, m, exit_code) || std::regex_search(line, m, abort_code)) {
      failure_ = RankFailure{pending_rank_, std::stoi(m[1]) & 0xff, 0};
    }
  }
}

void MpirunFailureParser::feed_rank_line(int rank, const std::string& text) {
  if (aborting_rank_ >= 0 || text.rfind("[zeroshard] rank ", 0) != 0) return;
  if (text.find(" did not finish within ") != std::string::npos || text.find(": aborting: ") != std::string::npos) {
    aborting_rank_ = rank;
    return;
  }
  static const std::regex exits(R"(: exits with code (\d+) )");
  std::smatch m;
  if (std::regex_search(text, m, exits)) {
    aborting_rank_ = rank;
    aborting_code_ = std::stoi(m[1]);
  }
}

std::optional<RankFailure> MpirunFailureParser::failure(int mpirun_exit_code) const {
  if (failure_) return failure_;
  if (aborting_rank_ >= 0) {
    return RankFailure{aborting_rank_, aborting_code_ >= 0 ? aborting_code_ : mpirun_exit_code, 0};
  }
  return std::nullopt;
}

}  // namespace zs::launcher
