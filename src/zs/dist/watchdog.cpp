#include "zs/dist/watchdog.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "zs/dist/collective_progress.hpp"
#include "zs/dist/liveness_link.hpp"

namespace zs {
namespace {

using Clock = std::chrono::steady_clock;

// Plain character arrays, never destroyed: a rank that leaves with exit(code) runs the static
// destructors while its watchdog threads still publish and read these keys.
constexpr char kEndKey[] = "zeroshard/watchdog/end";
constexpr char kLivenessKey[] = "zeroshard/watchdog/liveness_port";
std::string beat_key(int rank) { return "zeroshard/watchdog/beat/" + std::to_string(rank); }

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string seconds_text(double s) { return std::to_string(static_cast<long>(s + 0.5)) + " s"; }

// One rank's published state.
struct Beat {
  uint64_t beat = 0;
  bool done = false;
  ProgressSnapshot progress;
};

std::vector<uint8_t> encode(const Beat& b) {
  std::ostringstream s;
  const ProgressSnapshot& p = b.progress;
  s << b.beat << ' ' << b.done << ' ' << p.started << ' ' << p.oldest_open << ' ' << p.open_for_s << ' '
    << p.since_start_s << ' ' << p.solo << '\n'
    << p.open_what << '\n'
    << p.last_what << '\n'
    << p.solo_what;
  const std::string text = s.str();
  return std::vector<uint8_t>(text.begin(), text.end());
}

Beat decode(const std::vector<uint8_t>& bytes) {
  std::istringstream s(std::string(bytes.begin(), bytes.end()));
  Beat b;
  ProgressSnapshot& p = b.progress;
  s >> b.beat >> b.done >> p.started >> p.oldest_open >> p.open_for_s >> p.since_start_s >> p.solo;
  s.ignore(1);
  std::getline(s, p.open_what);
  std::getline(s, p.last_what);
  std::getline(s, p.solo_what);
  return b;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string describe_last(const ProgressSnapshot& p) {
  if (p.oldest_open) return "it waits in " + p.open_what + " (collective " + std::to_string(p.oldest_open) + ")";
  if (p.started) return "its last collective was " + p.last_what + " (collective " + std::to_string(p.started) + ")";
  return "it has started no collective";
}

}  // namespace

WatchdogOptions watchdog_options_from_env() {
  WatchdogOptions o;
  const char* v = std::getenv("ZS_HANG_TIMEOUT");
  if (v && *v) {
    char* end = nullptr;
    const double t = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(t >= 0)) {
      throw std::runtime_error(std::string("ZS_HANG_TIMEOUT='") + v + "' is not a number of seconds (0 turns the watchdog off)");
    }
    o.hang_timeout_s = t;
  }
  o.beat_interval_s = std::min(1.0, std::max(0.1, o.hang_timeout_s / 5));
  return o;
}

struct Watchdog::Impl {
  c10::intrusive_ptr<c10d::Store> keep_alive;  // rank 0: the server, which must outlive the beats
  c10::intrusive_ptr<c10d::TCPStore> store;    // this watchdog's own connection
  std::string address;
  int rank, size;
  WatchdogOptions options;
  std::function<void(const std::string&)> end_job;

  std::mutex mutex;
  std::condition_variable wake;
  bool finishing = false, stopped = false;
  bool joined = false;  // the first beat is published
  std::atomic<bool> ending{false};
  std::atomic<int64_t> round_started_ns{0};  // steady clock time of the store round in progress; 0: none
  uint64_t beats = 0;
  const Clock::time_point started_at = Clock::now();

  struct Seen {
    bool ever = false;
    Beat last;
    Clock::time_point changed;
  };
  std::vector<Seen> seen;
  std::unique_ptr<LivenessListener> listener;  // rank 0
  std::unique_ptr<LivenessLink> link;          // the other ranks
  std::thread beat_thread, guard_thread;

  // Ends the job once, whichever thread finds the reason first.
  [[noreturn]] void end(const std::string& message, bool publish) {
    if (ending.exchange(true)) {
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));  // the first caller ends the process
    }
    std::fprintf(stderr, "[zeroshard] watchdog on rank %d: %s; ending the job\n", rank, message.c_str());
    std::fflush(stderr);
    if (publish) {
      try {
        const std::string text = "rank " + std::to_string(rank) + " found: " + message;
        store->set(kEndKey, std::vector<uint8_t>(text.begin(), text.end()));
        // Rank 0 serves the store: stay long enough for every rank to read why.
        if (rank == 0) std::this_thread::sleep_for(std::chrono::duration<double>(2 * options.beat_interval_s + 0.5));
      } catch (const std::exception&) {
      }
    }
    end_job(message);
    std::_Exit(1);
  }

  // This rank leaves with an error: its peers hear it from the store at their next beat (rank 0, which
  // serves it, stays a moment for that) instead of finding it gone.
  void leave_failed(int status) {
    if (ending.exchange(true)) return;
    // At most a second: a stopped rank 0 must not hold this exit up.
    auto said = std::make_shared<std::promise<void>>();
    std::future<void> done = said->get_future();
    const std::string text = "rank " + std::to_string(rank) + " exited with code " + std::to_string(status & 0xff);
    std::thread([this, said, text] {
      try {
        store->set(kEndKey, std::vector<uint8_t>(text.begin(), text.end()));
      } catch (const std::exception&) {
      }
      said->set_value();
    }).detach();
    if (done.wait_for(std::chrono::seconds(1)) != std::future_status::ready) return;
    if (rank == 0) std::this_thread::sleep_for(std::chrono::duration<double>(2 * options.beat_interval_s + 0.5));
  }

  void publish(bool done) {
    Beat b;
    b.beat = ++beats;
    b.done = done;
    b.progress = collective_progress().snapshot();
    store->set(beat_key(rank), encode(b));
  }

  // Rank 0 listens for the ranks' liveness links; the others connect to it (liveness_link.hpp). Without
  // a link, deaths are still found by the beats.
  void link_up() {
    try {
      if (rank == 0) {
        listener = std::make_unique<LivenessListener>();
        const std::string port = std::to_string(listener->port());
        store->set(kLivenessKey, std::vector<uint8_t>(port.begin(), port.end()));
      } else {
        store->wait({kLivenessKey});
        const auto port = store->get(kLivenessKey);
        link = std::make_unique<LivenessLink>(address.substr(0, address.rfind(':')),
                                              std::stoi(std::string(port.begin(), port.end())), rank);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[zeroshard] rank %d: watchdog: no liveness link (%s); a death is found by its missing beats\n",
                   rank, first_line(e.what()).c_str());
    }
  }

  // Rank 0: read every beat and decide. Returns true when every rank is done.
  bool judge() {
    // Closed links first, beats after: a rank that finished said so before its link closed.
    const std::vector<int> closed = listener ? listener->closed_ranks() : std::vector<int>{};
    const auto now = Clock::now();
    std::vector<std::string> keys;
    for (int r = 0; r < size; ++r) keys.push_back(beat_key(r));
    std::vector<std::vector<uint8_t>> values(size);
    if (store->check(keys)) {
      values = store->multiGet(keys);
    } else {
      for (int r = 0; r < size; ++r)
        if (store->check({keys[r]})) values[r] = store->get(keys[r]);
    }
    bool all_done = true;
    for (int r = 0; r < size; ++r) {
      Seen& s = seen[r];
      if (values[r].empty()) {
        all_done = false;
        const double waited = seconds_between(started_at, now);
        if (waited >= options.hang_timeout_s) {
          end("rank " + std::to_string(r) + " hangs: it has not joined the watchdog within " + seconds_text(waited) +
                  " of the job's start",
              true);
        }
        continue;
      }
      Beat b = decode(values[r]);
      if (!s.ever || b.beat != s.last.beat) s.changed = now;
      s.ever = true;
      s.last = b;
      all_done &= b.done;
    }
    for (int r = 0; r < size; ++r) {
      const Seen& s = seen[r];
      if (!s.ever || s.last.done) continue;
      const double silent = seconds_between(s.changed, now);
      if (silent >= options.hang_timeout_s) {
        end("rank " + std::to_string(r) + " hangs: no heartbeat for " + seconds_text(silent) +
                " (the process is stopped, frozen or gone); " + describe_last(s.last.progress),
            true);
      }
    }
    for (int r : closed) {
      if (r <= 0 || r >= size || (seen[r].ever && seen[r].last.done)) continue;
      end("rank " + std::to_string(r) + " died: its connection to rank 0's watchdog closed before it finished (the "
              "process ended: killed, crashed or exited); " + describe_last(seen[r].last.progress),
          true);
    }
    // A rank that has waited long in collective k, and one that has not started k for as long.
    for (int a = 0; a < size; ++a) {
      const ProgressSnapshot& pa = seen[a].last.progress;
      if (!seen[a].ever || !pa.oldest_open || pa.open_for_s < options.hang_timeout_s) continue;
      for (int r = 0; r < size; ++r) {
        const Seen& s = seen[r];
        const ProgressSnapshot& pr = s.last.progress;
        if (r == a || !s.ever || s.last.done || pr.solo || pr.started >= pa.oldest_open) continue;
        if (pr.since_start_s < options.hang_timeout_s) continue;
        end("rank " + std::to_string(r) + " hangs outside collectives: rank " + std::to_string(a) + " has waited " +
                seconds_text(pa.open_for_s) + " in " + pa.open_what + " (collective " + std::to_string(pa.oldest_open) +
                "), which rank " + std::to_string(r) + " has not started; " + describe_last(pr) + ", " +
                seconds_text(pr.since_start_s) + " ago",
            true);
      }
    }
    return all_done;
  }

  void connect() {
    const size_t colon = address.rfind(':');
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
    o.isServer = false;
    o.waitWorkers = false;
    o.timeout = std::chrono::milliseconds(static_cast<long>(std::max(10.0, options.hang_timeout_s) * 1000));
    store = c10::make_intrusive<c10d::TCPStore>(address.substr(0, colon), o);
  }

  void beat_loop() {
    const bool zero = rank == 0;
    bool done_published = false;
    round_started_ns = Clock::now().time_since_epoch().count();
    try {
      connect();
    } catch (const std::exception& e) {
      end("cannot reach the job's store at " + address + " (served by rank 0): " + first_line(e.what()), false);
    }
    link_up();
    while (true) {
      bool finish_now;
      {
        std::lock_guard<std::mutex> lock(mutex);
        finish_now = finishing;
      }
      round_started_ns = Clock::now().time_since_epoch().count();
      try {
        if (finish_now && !done_published) {
          publish(true);
          done_published = true;
        } else if (!done_published) {
          publish(false);
        }
        if (!joined) {
          std::lock_guard<std::mutex> lock(mutex);
          joined = true;
          wake.notify_all();
        }
        if (store->check({kEndKey})) {
          if (ending.exchange(true)) break;  // this rank is the one leaving
          const auto bytes = store->get(kEndKey);
          const std::string why(bytes.begin(), bytes.end());
          std::fprintf(stderr, "[zeroshard] rank %d: ending the job: %s\n", rank, why.c_str());
          std::fflush(stderr);
          end_job(why);
          std::_Exit(1);
        }
        if (zero) {
          if (judge() && finish_now) break;
        } else if (finish_now) {
          break;
        }
      } catch (const std::exception& e) {
        // This rank said it is done: rank 0 may have seen that and exited (its store with it)
        // before this round's last look at the store. A normal end, not a lost rank 0.
        if (!zero && done_published) break;
        if (!zero) {
          end("the job's store at " + address + " (served by rank 0) is gone: rank 0 exited or its host is unreachable (" +
                  first_line(e.what()) + ")",
              false);
        }
        std::fprintf(stderr, "[zeroshard] watchdog on rank 0: the store failed: %s\n", first_line(e.what()).c_str());
      }
      round_started_ns = 0;
      std::unique_lock<std::mutex> lock(mutex);
      // Finishing, rank 0 looks often: its peers' last beats are all it waits for.
      const double wait = finish_now ? 0.05 : options.beat_interval_s;
      wake.wait_for(lock, std::chrono::duration<double>(wait), [&] { return finishing && !finish_now; });
    }
    round_started_ns = 0;
  }

  // A store round that does not come back: its server (rank 0) is stopped or cut off.
  void guard_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (!stopped) {
      wake.wait_for(lock, std::chrono::duration<double>(options.beat_interval_s));
      const int64_t started = round_started_ns;
      if (!started || stopped) continue;
      const double waited = seconds_between(Clock::time_point(Clock::duration(started)), Clock::now());
      if (waited >= options.hang_timeout_s) {
        lock.unlock();
        end("rank 0 hangs: the job's store at " + address + ", which rank 0 serves, has not answered for " +
                seconds_text(waited) + " (rank 0 is stopped or frozen, or its host is unreachable)",
            false);
      }
    }
  }
};

Watchdog::Watchdog(c10::intrusive_ptr<c10d::Store> store, std::string store_address, int rank, int world_size,
                   WatchdogOptions options, std::function<void(const std::string&)> end_job)
    : impl_(std::make_unique<Impl>()) {
  Impl& w = *impl_;
  w.keep_alive = std::move(store);
  w.address = std::move(store_address);
  w.rank = rank;
  w.size = world_size;
  w.options = options;
  w.end_job = std::move(end_job);
  w.seen.resize(static_cast<size_t>(world_size));
  // The connection is made on the beating thread, under the guard: rank 0 may already be stopped.
  w.guard_thread = std::thread([&w] { w.guard_loop(); });
  w.beat_thread = std::thread([&w] { w.beat_loop(); });
  // Return once this rank has beaten: from then on its silence counts.
  std::unique_lock<std::mutex> lock(w.mutex);
  w.wake.wait(lock, [&w] { return w.joined; });
}

void Watchdog::finish() {
  Impl& w = *impl_;
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    if (w.stopped) return;
    w.finishing = true;
  }
  w.wake.notify_all();
  if (w.beat_thread.joinable()) w.beat_thread.join();
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    w.stopped = true;
  }
  w.wake.notify_all();
  if (w.guard_thread.joinable()) w.guard_thread.join();
}

Watchdog::~Watchdog() { finish(); }

void Watchdog::leave_failed(int status) {
  if (impl_->store) impl_->leave_failed(status);
}

namespace {

std::mutex g_mutex;
std::weak_ptr<Watchdog> g_watchdog;

// At a normal exit, finish beating (rank 0 keeps serving until every rank is done); at an exit with an
// error, tell the peers.
void finish_at_exit(int status, void*) {
  std::shared_ptr<Watchdog> w;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    w = g_watchdog.lock();
  }
  if (!w) return;
  if (status == 0) w->finish();
  else w->leave_failed(status);
}

}  // namespace

std::shared_ptr<Watchdog> start_watchdog(c10::intrusive_ptr<c10d::Store> store, std::string store_address, int rank,
                                         int world_size, std::function<void(const std::string&)> end_job) {
  const WatchdogOptions options = watchdog_options_from_env();
  if (options.hang_timeout_s == 0 || world_size < 2) return nullptr;
  auto w = std::make_shared<Watchdog>(std::move(store), std::move(store_address), rank, world_size, options,
                                      std::move(end_job));
  static std::once_flag registered;
  std::call_once(registered, [] { on_exit(finish_at_exit, nullptr); });
  std::lock_guard<std::mutex> lock(g_mutex);
  g_watchdog = w;
  return w;
}

}  // namespace zs
