// The zs_ckpt program (inspect, consolidate, export-hf), as a function so that the app's main()
// and the tests' helper program run the same code.
#pragma once

namespace zs {

// Parses the command line, runs the subcommand, returns the exit code (errors are printed).
int ckpt_tool_main(int argc, char** argv);

}  // namespace zs
