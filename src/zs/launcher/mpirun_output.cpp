#include "zs/launcher/mpirun_output.hpp"

#include <cstdlib>
#include <regex>
#include <vector>

namespace zs::launcher {

namespace {

// A tag "[J,R]<stream>:" starting at `pos`: its length, rank and stream; 0 when there is none.
size_t tag_at(const std::string& line, size_t pos, int* rank, bool* is_stderr) {
  size_t i = pos;
  auto digits = [&]() {
    size_t start = i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
    return i > start && i - start < 10;
  };
  if (i >= line.size() || line[i++] != '[' || !digits() || i >= line.size() || line[i++] != ',') return 0;
  const size_t rank_start = i;
  if (!digits()) return 0;
  const size_t rank_end = i;
  if (i + 1 >= line.size() || line[i] != ']' || line[i + 1] != '<') return 0;
  i += 2;
  const size_t name_start = i;
  while (i < line.size() && line[i] >= 'a' && line[i] <= 'z') ++i;
  const std::string name = line.substr(name_start, i - name_start);
  if (name != "stdout" && name != "stderr" && name != "stddiag") return 0;
  if (line.compare(i, 2, ">:") != 0) return 0;
  *rank = std::atoi(line.substr(rank_start, rank_end - rank_start).c_str());
  *is_stderr = name != "stdout";
  return i + 2 - pos;
}

}  // namespace

std::optional<TaggedLine> parse_mpirun_tag(const std::string& line) {
  TaggedLine tagged;
  const size_t n = tag_at(line, 0, &tagged.rank, &tagged.is_stderr);
  if (n == 0) return std::nullopt;
  tagged.text = line.substr(n);
  return tagged;
}

MpirunPieces MpirunLineJoiner::feed(const std::string& line) {
  MpirunPieces out;
  // Where each tag starts and what it names.
  struct Tag {
    size_t pos, len;
    int rank;
    bool is_stderr;
  };
  std::vector<Tag> tags;
  for (size_t pos = line.find('['); pos != std::string::npos; pos = line.find('[', pos + 1)) {
    Tag t{pos, 0, 0, false};
    t.len = tag_at(line, pos, &t.rank, &t.is_stderr);
    if (t.len) {
      tags.push_back(t);
      pos += t.len - 1;
    }
  }
  if (tags.empty() || tags[0].pos > 0) {
    out.own_line = line.substr(0, tags.empty() ? std::string::npos : tags[0].pos);
  }
  for (size_t k = 0; k < tags.size(); ++k) {
    const Tag& t = tags[k];
    const size_t begin = t.pos + t.len;
    const size_t end = k + 1 < tags.size() ? tags[k + 1].pos : line.size();
    std::string& text = partial_[{t.rank, t.is_stderr}];
    text.append(line, begin, end - begin);
    // Only the last piece of mpirun's line ended with the rank's '\n'; the others continue later.
    if (k + 1 == tags.size()) {
      out.rank_lines.push_back(TaggedLine{t.rank, t.is_stderr, std::move(text)});
      partial_.erase({t.rank, t.is_stderr});
    }
  }
  return out;
}

std::vector<TaggedLine> MpirunLineJoiner::finish() {
  std::vector<TaggedLine> out;
  for (auto& [key, text] : partial_) {
    if (!text.empty()) out.push_back(TaggedLine{key.first, key.second, std::move(text)});
  }
  partial_.clear();
  return out;
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

}  // namespace zs::launcher
