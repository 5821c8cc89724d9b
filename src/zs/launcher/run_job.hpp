// Runs a launch plan to its end: relays every line with its rank (and node), stops every rank when
// one fails, and reports what happened the way zsrun does.
#pragma once

#include <string>

#include "zs/launcher/launch_plan.hpp"

namespace zs::launcher {

struct JobOutcome {
  int exit_code = 0;          // zsrun's exit code for this run of the job
  bool interrupted = false;   // stopped by a signal to zsrun (Ctrl-C): not to be restarted
};

JobOutcome run_job(const LaunchPlan& plan, const LaunchOptions& opts);

// Output helpers: one write per line, so lines of different ranks never mix.
void write_all(int fd, const std::string& s);
void say(const std::string& message);  // "zsrun: <message>" on stderr

}  // namespace zs::launcher
