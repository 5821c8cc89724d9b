// The one place that says which validated config features this build cannot run yet.
#include "zs/config/unbuilt_features.hpp"

namespace zs {

static void not_yet(const std::string& what) {
  throw ConfigError(what + " is not available in this build yet; remove it or set it to its default");
}

void reject_unbuilt_features(const Config& c) {
  if (c.zero.stage == 3) {
    // Stage 3 runs; these of its options do not yet.
    const ZeroConfig defaults;
    if (c.zero.stage3_max_reuse_distance != defaults.stage3_max_reuse_distance)
      not_yet("zero_optimization.stage3_max_reuse_distance (units are released after every use)");
    if (c.zero.stage3_gather_16bit_weights_on_model_save)
      not_yet("zero_optimization.stage3_gather_16bit_weights_on_model_save (consolidate a checkpoint with zs_ckpt instead)");
  }
  if (c.zero.offload_optimizer.enabled())
    not_yet("zero_optimization.offload_optimizer.device \"" + c.zero.offload_optimizer.device +
            "\" (optimizer offload)");
  if (c.zero.offload_param.enabled())
    not_yet("zero_optimization.offload_param.device \"" + c.zero.offload_param.device + "\" (parameter offload)");

  const ActivationCheckpointingConfig& a = c.activation_checkpointing;
  if (a.partition_activations) not_yet("activation_checkpointing.partition_activations");
  if (a.cpu_checkpointing) not_yet("activation_checkpointing.cpu_checkpointing");
  if (a.contiguous_memory_optimization) not_yet("activation_checkpointing.contiguous_memory_optimization");
  if (a.synchronize_checkpoint_boundary) not_yet("activation_checkpointing.synchronize_checkpoint_boundary");
  if (a.profile) not_yet("activation_checkpointing.profile");

  if (c.flops_profiler) not_yet("flops_profiler.enabled");
  if (c.tensorboard.enabled) not_yet("tensorboard.enabled (TensorBoard event files)");
  if (c.csv_monitor.enabled) not_yet("csv_monitor.enabled (CSV metric files)");
  if (c.wandb.enabled) not_yet("wandb.enabled (Weights & Biases logging)");
}

}  // namespace zs
