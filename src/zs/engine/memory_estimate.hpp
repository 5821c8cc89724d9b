// What a model's training state needs per GPU and per host under each ZeRO stage and offload
// choice, from this engine's own layout (the counterpart of DeepSpeed's estimate_zero2/zero3
// model-state formulas). With p bytes per 16-bit parameter (2; 4 in fp32 training), Adam's
// 4-byte master plus 8 bytes of state (k = 12 bytes; fp32 training keeps no separate master),
// N ranks, Ψ parameters of which Ψu sit in stage-3 units and Ψp = Ψ - Ψu stay gathered:
//
//   per GPU            params            grads             master + state
//   stage 0            pΨ                pΨ                kΨ
//   stage 1            pΨ                pΨ                kΨ/N
//   stage 2            pΨ                pΨ/N              kΨ/N
//   stage 3            pΨp + pΨu/N *     (pΨp + gΨu)/N     kΨ/N
//   offload_optimizer                                      0 on the GPU, kΨ/N (+4Ψ/N fp32 masters) in host memory
//   offload_param      pΨu/N moves to host memory (with device "nvme" to files: the host keeps
//                      only buffer_count buffers of the largest unit shard)
//   ratio r < 1        (offload_optimizer.ratio, device "cpu") only r of the offloaded state moves:
//                      the rest stays on the GPU, as without offload; with offload_param whole
//                      units move, min(rΨ, Ψu) elements, shards and state together
//
// * 0 for the units when the fp32 masters are on the GPU in 16-bit training: gathers round them
// directly. g is the bytes of the communication dtype (the units' gradients are reduced and kept
// in it; p by default).
//
// plus, at stage 3, the units gathered at once (at most stage3_max_live_parameters, about the
// running unit, prefetched units below stage3_prefetch_bucket_size and the one that crosses it)
// and one unit's gradient staging buffer. ZeRO++: hpZ with groups of g ranks keeps pΨu/g more
// parameters (the secondary copy); qwZ and qgZ add their int8 buffers for the units in flight.
// Activations are not included: they depend on the batch, not on the stage.
#pragma once

#include <cstdint>
#include <string>

#include "zs/config/config.hpp"

namespace zs {

struct ModelSizes {
  int64_t params = 0;          // Ψ: trainable parameters
  int64_t unit_params = 0;     // Ψu: those inside units (zero/unit.hpp)
  int64_t largest_unit = 0;    // elements of the largest unit
  int bytes_per_param = 2;     // 2 for bf16/fp16 training, 4 for fp32
  int unit_grad_bytes = 2;     // stage-3 unit gradients: the communication dtype's bytes
  int state_floats = 2;        // optimizer state per parameter: Adam 2, Lion, Adagrad and SGD with momentum 1, else 0
  int world_size = 1;
  int ranks_per_host = 1;
};

struct OffloadChoice {
  int stage = 0;
  bool optimizer = false;      // offload_optimizer to the host (or NVMe: then nothing stays on the host)
  bool optimizer_nvme = false;
  bool params = false;         // offload_param (stage 3)
  bool params_nvme = false;    // offload_param device "nvme": the shards leave host memory too
  std::string name() const;    // "stage 3 + offload_optimizer + offload_param"
};

struct MemoryEstimate {
  // Per GPU, bytes.
  double params = 0, grads = 0, optimizer = 0;  // model states
  double gathered = 0;                          // stage 3: units gathered at once
  double buffers = 0;                           // gradient staging and step scratch
  // Per rank in host memory, bytes (offloaded state).
  double host = 0;
  double gpu_model_states() const { return params + grads + optimizer; }
  double gpu_total() const { return gpu_model_states() + gathered + buffers; }
};

MemoryEstimate estimate_memory(const ModelSizes& sizes, const OffloadChoice& choice, const ZeroConfig& zero);

// The choice a config makes.
OffloadChoice offload_choice(const Config& config);

// A table of every stage and offload choice for these sizes, and the chosen one's breakdown next
// to what the GPU and the host have (capacity 0: unknown). Lines start with "[zeroshard] ".
// Without `on_gpu` (CPU ranks) only the chosen one's breakdown, per rank.
std::string describe_memory(const ModelSizes& sizes, const Config& config, int64_t gpu_capacity,
                            int64_t host_available, bool on_gpu = true);

// offload_optimizer.ratio for a CPU offload (`choice` with the optimizer on device "cpu" and no
// NVMe): the ratios, in steps of 0.05, whose state fits the GPU's `gpu_capacity` and the host's
// `host_available` (0: unknown, never binding), the rest of the config as in `zero`. The GPU's
// share shrinks and the host's grows with the ratio, so they are one range; the smaller the ratio,
// the more of the step stays on the GPU. Empty (-1) when none fits, or the choice takes no ratio.
// Activations are not counted: a run needs room above this.
struct RatioRange {
  double smallest = -1.0, largest = -1.0;
  bool any() const { return smallest >= 0; }
};
RatioRange fitting_ratios(const ModelSizes& sizes, const OffloadChoice& choice, const ZeroConfig& zero,
                          int64_t gpu_capacity, int64_t host_available);

// Throws ConfigError, before anything is allocated, when the chosen config's model states alone
// cannot fit: on the GPU (`gpu_capacity` > 0) or in host memory shared by the ranks of a host
// (`host_available` > 0). The message names the alternatives that would fit.
void check_memory_fits(const ModelSizes& sizes, const Config& config, int64_t gpu_capacity, int64_t host_available);

}  // namespace zs
