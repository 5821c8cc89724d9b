// The one place that says which validated config features this build cannot run yet.
#include "zs/config/unbuilt_features.hpp"

#include "zs/config/reader.hpp"

namespace zs {

static void not_yet(const std::string& what) {
  throw ConfigError(what + " is not available in this build yet; remove it or set it to its default");
}

void reject_unbuilt_features(const Config& c) {
  const OffloadConfig& oo = c.zero.offload_optimizer;
  if (oo.device == "nvme") {
    if (oo.ratio != 1.0)
      not_yet("zero_optimization.offload_optimizer.ratio " + config_detail::number_text(oo.ratio) +
              " (a partial offload; 1.0 offloads the whole optimizer step)");
    // The initial state is always written to the files at startup (zero/state/nvme_state_store.hpp).
    if (oo.fast_init)
      not_yet("zero_optimization.offload_optimizer.fast_init (the initial optimizer state is written to nvme_path "
              "at startup either way)");
  }
  if (oo.device == "cpu") {
    // With offload_param "cpu" a partial offload moves whole units to the host; in files (NVMe)
    // the device's share of the units could not be updated where it lives.
    if (oo.ratio != 1.0 && c.zero.offload_param.device == "nvme")
      not_yet("zero_optimization.offload_optimizer.ratio " + config_detail::number_text(oo.ratio) +
              " together with offload_param device \"nvme\" (use ratio 1.0, or offload_param device \"cpu\")");
    // These tune NVMe swapping; with the state in CPU memory they would silently do nothing.
    if (oo.fast_init || oo.pipeline_read || oo.pipeline_write)
      throw ConfigError(
          "zero_optimization.offload_optimizer: fast_init, pipeline_read and pipeline_write apply to device "
          "\"nvme\" only; remove them for device \"cpu\"");
  }
  const OffloadConfig& op = c.zero.offload_param;
  // With device "nvme" every unit's shard lives in its file; keeping some of them in host memory
  // instead (max_in_cpu) is not built.
  if (op.device == "nvme" && op.max_in_cpu != OffloadConfig().max_in_cpu)
    not_yet("zero_optimization.offload_param.max_in_cpu (keeping some parameter shards in host memory; with device "
            "\"nvme\" every shard lives in nvme_path and host memory holds only buffer_count buffers)");
  if (op.device == "cpu") {
    const OffloadConfig defaults;
    if (op.buffer_count != 5 || op.buffer_size != defaults.buffer_size || op.max_in_cpu != defaults.max_in_cpu)
      throw ConfigError(
          "zero_optimization.offload_param: buffer_count, buffer_size and max_in_cpu apply to device \"nvme\" "
          "only; remove them for device \"cpu\"");
  }

  const ActivationCheckpointingConfig& a = c.activation_checkpointing;
  if (a.partition_activations) not_yet("activation_checkpointing.partition_activations");
  if (a.cpu_checkpointing) not_yet("activation_checkpointing.cpu_checkpointing");
  if (a.contiguous_memory_optimization) not_yet("activation_checkpointing.contiguous_memory_optimization");
  if (a.synchronize_checkpoint_boundary) not_yet("activation_checkpointing.synchronize_checkpoint_boundary");
  if (a.profile) not_yet("activation_checkpointing.profile");

  // Weights & Biases has no C++ client; its offline runs are written by its Python library only.
  if (c.wandb.enabled)
    throw ConfigError(
        "wandb.enabled: ZeroShard cannot log to Weights & Biases (its client library is Python only); turn on "
        "\"tensorboard\" instead and upload its event files with `wandb sync --sync-tensorboard <output_path>/<job_name>`");
  if (c.comet.enabled) not_yet("comet.enabled (Comet logging)");
}

}  // namespace zs
