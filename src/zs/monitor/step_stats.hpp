#pragma once
// What one optimizer step reports to the monitors.
#include <cstdint>

namespace zs {

struct StepStats {
  int64_t step = 0;          // optimizer steps done, counting this one (1-based)
  double loss = 0.0;         // training loss of the step (mean over the global batch)
  double lr = 0.0;           // learning rate the step used
  double loss_scale = 1.0;   // dynamic loss scale (fp16); 1 when unscaled
  double grad_norm = -1.0;   // global gradient norm before clipping; < 0 when not computed
  int64_t samples = 0;       // samples in the step over all ranks (train_batch_size)
  int64_t tokens = 0;        // tokens in the step over all ranks
  double seconds = 0.0;      // wall time of the step
  bool skipped = false;      // the step was skipped (gradient overflow)
};

}  // namespace zs
