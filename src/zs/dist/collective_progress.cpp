#include "zs/dist/collective_progress.hpp"

#include <map>
#include <mutex>

namespace zs {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  std::mutex mutex;
  uint64_t started = 0;
  std::map<uint64_t, std::pair<std::string, Clock::time_point>> open;  // seq -> (what, start)
  std::string last_what;
  Clock::time_point last_start = Clock::now();
  int solo_depth = 0;
  std::string solo_what;
};

State& state() {
  static State* s = new State;  // never destroyed: the watchdog may read it while the process exits
  return *s;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

uint64_t CollectiveProgress::started(const std::string& what) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const uint64_t seq = ++s.started;
  s.last_start = Clock::now();
  s.open.emplace(seq, std::make_pair(what, s.last_start));
  s.last_what = what;
  return seq;
}

void CollectiveProgress::finished(uint64_t seq) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.open.erase(seq);
}

ProgressSnapshot CollectiveProgress::snapshot() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ProgressSnapshot p;
  p.started = s.started;
  if (!s.open.empty()) {
    p.oldest_open = s.open.begin()->first;
    p.open_what = s.open.begin()->second.first;
    p.open_for_s = seconds_since(s.open.begin()->second.second);
  }
  p.last_what = s.last_what;
  p.since_start_s = seconds_since(s.last_start);
  p.solo = s.solo_depth > 0;
  p.solo_what = s.solo_what;
  return p;
}

CollectiveProgress& collective_progress() {
  static CollectiveProgress progress;
  return progress;
}

SoloWorkScope::SoloWorkScope(const std::string& what) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.solo_depth++ == 0) s.solo_what = what;
}

SoloWorkScope::~SoloWorkScope() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (--s.solo_depth == 0) {
    s.solo_what.clear();
    s.last_start = Clock::now();  // the wait for this rank starts counting again now
  }
}

}  // namespace zs
