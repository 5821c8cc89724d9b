#pragma once
// What one optimizer step reports to the monitors (the terminal line and the metric sinks).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace zs {

struct StepStats {
  int64_t step = 0;          // optimizer steps done, counting this one (1-based)
  double loss = 0.0;         // training loss of the step (mean over the global batch)
  double lr = 0.0;           // learning rate the step used
  double loss_scale = 1.0;   // dynamic loss scale (fp16); 1 when unscaled
  bool loss_scaling = false; // fp16 loss scaling is on (DeepSpeed then logs the scale)
  double grad_norm = -1.0;   // global gradient norm before clipping; < 0 when not computed
  int64_t samples = 0;       // samples in the step over all ranks (train_batch_size)
  int64_t tokens = 0;        // tokens in the step over all ranks
  int64_t global_samples = 0;  // samples trained since the start, counting this step (DeepSpeed's x axis)
  double seconds = 0.0;      // wall time of the step
  bool skipped = false;      // the step was skipped (gradient overflow)
  // Further named values for the sinks, named as DeepSpeed's tags end ("elapsed_time_ms_forward",
  // "tokens_per_second", ...): the sinks write them under "Train/Samples/<name>".
  std::vector<std::pair<std::string, double>> extras;
};

}  // namespace zs
