// Faults on demand, for the tests and measurements of failure handling (a dead or hung rank, a
// restarted job): ZS_TEST_FAULT=RANK:STEP:ACTION makes rank RANK, at step STEP, act as a failing
// rank would: KILL (SIGKILL itself), STOP (SIGSTOP itself, a frozen process), EXIT (exit code 7) or
// HANG (sleep forever outside collectives). Only on a job's first attempt (ZS_RESTART_COUNT unset
// or 0), so that a restarted job runs through.
#pragma once

#include <cstdint>

#include "zs/dist/world.hpp"

namespace zs {

// Call once per training step; does nothing unless ZS_TEST_FAULT names this rank and step.
void inject_test_fault(const World& world, int64_t step);

}  // namespace zs
