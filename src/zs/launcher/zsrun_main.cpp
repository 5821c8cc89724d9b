#include "zs/launcher/zsrun_main.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "zs/launcher/launch_plan.hpp"
#include "zs/launcher/rank_shim.hpp"
#include "zs/launcher/run_job.hpp"

extern char** environ;

namespace zs::launcher {
namespace {

int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// torchrun's elastic idea, whole-job: after a failure every rank restarts; ZS_RESTART_COUNT tells
// the program which attempt it is (train_gpt then resumes from its newest checkpoint).
int run_with_restarts(const LaunchOptions& opts, std::vector<std::string> env) {
  const bool counting = opts.max_restarts > 0 && opts.world_info.empty();
  for (int attempt = 0;; ++attempt) {
    if (counting) {
      env.erase(std::remove_if(env.begin(), env.end(),
                               [](const std::string& kv) { return kv.rfind("ZS_RESTART_COUNT=", 0) == 0; }),
                env.end());
      env.push_back("ZS_RESTART_COUNT=" + std::to_string(attempt));
    }
    const LaunchPlan plan = make_launch_plan(opts, env, usable_cores());
    const JobOutcome outcome = run_job(plan, opts);
    if (outcome.exit_code == 0 || outcome.interrupted || !counting || attempt >= opts.max_restarts) {
      return outcome.exit_code;
    }
    say("restarting the job (restart " + std::to_string(attempt + 1) + " of " + std::to_string(opts.max_restarts) +
        "): every rank starts again and resumes from the newest checkpoint");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

int zsrun_main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--rank-shim") {
    const int skip = argc >= 3 && std::string(argv[2]) == "--" ? 3 : 2;
    return run_rank_shim(argc - skip, argv + skip);
  }
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  try {
    LaunchOptions opts = parse_launch_args(args);
    if (opts.help) {
      write_all(STDOUT_FILENO, launch_usage());
      return 0;
    }
    return run_with_restarts(opts, env);
  } catch (const UsageError& e) {
    say(std::string("error: ") + e.what());
    say("run `zsrun --help` for the options");
    return 2;
  } catch (const std::exception& e) {
    say(std::string("error: ") + e.what());
    return 1;
  }
}

}  // namespace zs::launcher
