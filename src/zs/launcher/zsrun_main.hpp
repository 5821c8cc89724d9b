// zsrun as a function, so apps/zsrun.cpp stays a one-line main.
#pragma once

namespace zs::launcher {

// Parses the command line, starts the ranks, relays their output with "[rank R] " prefixes and
// returns zsrun's exit code: 0, the first failing rank's code, or 2 for a usage error.
int zsrun_main(int argc, char** argv);

}  // namespace zs::launcher
