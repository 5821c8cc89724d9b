// zs_ckpt: inspect, consolidate and export ZeroShard checkpoints (see zs/ckpt/ckpt_tool.hpp).
#include "zs/ckpt/ckpt_tool.hpp"

int main(int argc, char** argv) { return zs::ckpt_tool_main(argc, argv); }
