#include "zs/launcher/rank_reports.hpp"

#include <regex>

namespace zs::launcher {

void RankReports::feed(const std::string& text) {
  if (first_) return;
  static const std::regex hang(R"(^\[zeroshard\] watchdog on rank (\d+): rank (\d+) ((?:hangs|died).*?)(; ending the job)?$)");
  static const std::regex exits(R"(^\[zeroshard\] rank (\d+): exits with code (\d+)(?: \(killed by signal (\d+))?)");
  static const std::regex node_exit(R"(^zsrun\[[^\]]+\]: rank (\d+)(?: on \S+)? exited with code (\d+)(?: \(killed by signal (\d+))?)");
  static const std::regex noticed(R"(^\[zeroshard\] rank (\d+): (.* did not finish within .*|aborting: .*))");
  std::smatch m;
  if (std::regex_search(text, m, hang)) {
    RankReport r;
    r.kind = RankReport::Kind::hung;
    r.reporter = std::stoi(m[1]);
    r.rank = std::stoi(m[2]);
    r.detail = m[3];
    first_ = r;
  } else if (std::regex_search(text, m, exits) || std::regex_search(text, m, node_exit)) {
    RankReport r;
    r.rank = std::stoi(m[1]);
    r.exit_code = std::stoi(m[2]);
    r.signal = m[3].matched ? std::stoi(m[3]) : 0;
    first_ = r;
  } else if (!first_noticed_ && std::regex_search(text, m, noticed)) {
    RankReport r;
    r.kind = RankReport::Kind::noticed;
    r.rank = std::stoi(m[1]);
    r.detail = m[2];
    first_noticed_ = r;
  }
}

std::optional<RankReport> RankReports::first() const { return first_ ? first_ : first_noticed_; }

std::string without_rank_prefix(const std::string& line) {
  static const std::regex prefix(R"(^\[(?:\S+ )?rank \d+\] )");
  std::smatch m;
  if (std::regex_search(line, m, prefix)) return line.substr(static_cast<size_t>(m.length(0)));
  return line;
}

}  // namespace zs::launcher
