// zsrun: start a ZeroShard program's ranks on this machine (see `zsrun --help`).
#include "zs/launcher/zsrun_main.hpp"

int main(int argc, char** argv) { return zs::launcher::zsrun_main(argc, argv); }
