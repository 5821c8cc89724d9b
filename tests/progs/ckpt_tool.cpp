// The zs_ckpt program, built next to the other test helpers (bin/tests/ckpt_tool).
#include "zs/ckpt/ckpt_tool.hpp"

int main(int argc, char** argv) { return zs::ckpt_tool_main(argc, argv); }
