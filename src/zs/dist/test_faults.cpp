#include "zs/dist/test_faults.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace zs {

void inject_test_fault(const World& world, int64_t step) {
  static const char* spec = std::getenv("ZS_TEST_FAULT");
  if (!spec || !*spec || world.info.restart_count > 0) return;
  long rank = -1, at = -1;
  char action[16] = {0};
  if (std::sscanf(spec, "%ld:%ld:%15s", &rank, &at, action) != 3) {
    throw std::runtime_error(std::string("ZS_TEST_FAULT='") + spec + "': want RANK:STEP:KILL|STOP|EXIT|HANG");
  }
  if (rank != world.rank() || at != step) return;
  const std::string what(action);
  std::fprintf(stderr, "[zeroshard] rank %d: ZS_TEST_FAULT: %s at step %lld\n", world.rank(), what.c_str(),
               static_cast<long long>(step));
  std::fflush(stderr);
  if (what == "KILL") raise(SIGKILL);
  if (what == "STOP") raise(SIGSTOP);
  if (what == "EXIT") std::_Exit(7);
  if (what == "HANG") {
    while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  throw std::runtime_error("ZS_TEST_FAULT: unknown action '" + what + "' (KILL, STOP, EXIT or HANG)");
}

}  // namespace zs
