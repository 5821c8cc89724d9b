#include "zs/engine/memory_estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "zs/zero/stage_policy.hpp"

namespace zs {

namespace {

constexpr double kGiB = double(1 << 30);
// The fp32 gradient scratch of a 16-bit step (kDeviceStepScratchElements,
// zero/state/device_state_store.hpp) and the offload piece size (offload_piece_elements()).
constexpr double kStepScratchElements = double(64 << 20);
constexpr double kOffloadPieceElements = double(4 << 20);

// "12.34 GiB", or "56.7 MiB" below a GiB.
std::string gib(double bytes) {
  char text[32];
  if (bytes >= kGiB || bytes == 0)
    std::snprintf(text, sizeof(text), "%.2f GiB", bytes / kGiB);
  else
    std::snprintf(text, sizeof(text), "%.1f MiB", bytes / double(1 << 20));
  return text;
}

std::vector<OffloadChoice> all_choices() {
  return {{0, false, false, false}, {1, false, false, false}, {2, false, false, false}, {2, true, false, false},
          {3, false, false, false}, {3, true, false, false},  {3, true, false, true},
          {3, true, true, true, true}};
}

}  // namespace

std::string OffloadChoice::name() const {
  std::string s = "stage " + std::to_string(stage);
  if (optimizer) s += optimizer_nvme ? " + offload_optimizer(nvme)" : " + offload_optimizer";
  if (params) s += params_nvme ? " + offload_param(nvme)" : " + offload_param";
  return s;
}

OffloadChoice offload_choice(const Config& config) {
  OffloadChoice c;
  c.stage = config.zero.stage;
  c.optimizer = config.zero.offload_optimizer.enabled();
  c.optimizer_nvme = config.zero.offload_optimizer.device == "nvme";
  c.params = config.zero.offload_param.enabled();
  c.params_nvme = config.zero.offload_param.device == "nvme";
  return c;
}

MemoryEstimate estimate_memory(const ModelSizes& m, const OffloadChoice& c, const ZeroConfig& zero) {
  // What the stage keeps whole or sharded (the same flags the reducer and the optimizer read).
  const StagePolicy policy = StagePolicy::for_stage(c.stage);
  const double psi = double(m.params), units = policy.partition_parameters ? double(m.unit_params) : 0.0;
  const double gathered_psi = psi - units, n = double(m.world_size), p = double(m.bytes_per_param);
  const bool separate_master = m.bytes_per_param != 4;
  const double state_bytes = 4.0 * m.state_floats + (separate_master ? 4.0 : 0.0);  // k
  const double owned = policy.shard_optimizer ? psi / n : psi;                          // optimizer elements here

  // Stage-3 units of 16-bit training with the optimizer on the GPU gather straight from their
  // fp32 masters and keep no 16-bit shard; their reduced gradients are in the communication dtype.
  const bool units_from_masters = separate_master && !c.optimizer;
  // offload_optimizer.ratio (device "cpu", parameters not in files): the host's share of the
  // optimizer state. With offload_param only whole units move, with their shards: at most all of
  // the units, while the gathered parameters' state stays on the GPU. The run's split follows slot
  // or unit boundaries, so its share is near this one, not equal (the summary line gives it).
  double ratio_share =
      c.optimizer && !c.optimizer_nvme && !c.params_nvme ? std::clamp(zero.offload_optimizer.ratio, 0.0, 1.0) : 1.0;
  double params_on_host = c.params ? 1.0 : 0.0;  // the units' shards' share in host memory
  if (c.params && ratio_share < 1.0) {
    const double moved = std::min(ratio_share * psi, units);
    params_on_host = units > 0 ? moved / units : 0.0;
    ratio_share = psi > 0 ? moved / psi : 0.0;
  }
  MemoryEstimate e;
  e.params = p * gathered_psi + (units_from_masters ? 0.0 : (1.0 - params_on_host) * p * units / n);
  e.grads = policy.shard_gradients ? (p * gathered_psi + double(m.unit_grad_bytes) * units) / n : p * psi;
  if (c.optimizer) {
    // Host: fp32 masters (always separate there) and state, or only the piece ring with NVMe. A
    // partial offload (ratio < 1) keeps the rest beside the parameters: fp32 master and state.
    const double ring = double(std::max<int64_t>(zero.offload_optimizer.buffer_count, 1)) * kOffloadPieceElements * (4.0 + p);
    e.host = (c.optimizer_nvme ? 0.0 : (4.0 + 4.0 * m.state_floats) * owned * ratio_share) + ring;
    e.optimizer = (4.0 + 4.0 * m.state_floats) * owned * (1.0 - ratio_share);
    if (ratio_share < 1.0) e.buffers += 4.0 * std::min(kStepScratchElements, owned * (1.0 - ratio_share));
  } else {
    e.optimizer = state_bytes * owned;
    if (separate_master) e.buffers += 4.0 * std::min(kStepScratchElements, owned);
  }
  if (c.params && c.params_nvme) {
    // The pool: buffer_count buffers the size of the largest unit shard (at most buffer_size).
    const double shard = std::min(std::ceil(double(m.largest_unit) / n), double(zero.offload_param.buffer_size));
    e.host += double(std::max<int64_t>(zero.offload_param.buffer_count, 1)) * p * (units > 0 ? shard : 0.0);
  } else if (c.params) {
    e.host += params_on_host * p * units / n;
  }
  if (policy.shard_gradients) e.buffers += 2.0 * p * std::min(double(zero.reduce_bucket_size), gathered_psi);
  if (units > 0) {
    const double largest = double(m.largest_unit);
    // The running unit, and prefetched ones below the bucket size plus the one that crosses it.
    const double bucket = double(zero.stage3_prefetch_bucket_size);
    const double live = std::min(largest + (bucket > 0 ? bucket + largest : 0.0), units);
    e.gathered = p * std::max(largest, std::min(live, double(zero.stage3_max_live_parameters)));
    e.buffers += p * largest;  // the running unit's gradient staging
    // ZeRO++ (unit_codec.hpp). hpZ: the secondary copy, 1/g of every unit in 16 bits, between
    // steps. qwZ: the int8 blocks and scales of the units being gathered. qgZ: a unit's quantized
    // gradients going out and coming in, and two of its float32 chunks to add them up.
    const double packed = 1.0 + 4.0 / 256;  // bytes per element of int8 blocks of 256 with a scale
    if (zero.zero_hpz_partition_size > 1) e.params += p * units / double(zero.zero_hpz_partition_size);
    if (zero.zero_quantized_weights) e.buffers += e.gathered / p * packed;
    if (zero.zero_quantized_gradients) e.buffers += 2.0 * packed * largest + 8.0 * largest / n;
  }
  return e;
}

namespace {

// Whether choice `c` fits (capacities of 0 are unknown and never bind); `why` says what does not.
bool fits(const ModelSizes& m, const OffloadChoice& c, const ZeroConfig& zero, int64_t gpu_capacity,
          int64_t host_available, std::string* why) {
  const MemoryEstimate e = estimate_memory(m, c, zero);
  if (gpu_capacity > 0 && e.gpu_total() > double(gpu_capacity)) {
    if (why)
      *why = "needs " + gib(e.gpu_total()) + " per GPU for model states, gathered units and buffers alone, "
             "but the GPU has " + gib(double(gpu_capacity));
    return false;
  }
  if (host_available > 0 && e.host * m.ranks_per_host > double(host_available)) {
    if (why)
      *why = "needs " + gib(e.host * m.ranks_per_host) + " of host memory for offloaded state (" +
             std::to_string(m.ranks_per_host) + " rank(s) on this host), but " + gib(double(host_available)) +
             " are available";
    return false;
  }
  return true;
}

bool takes_a_ratio(const OffloadChoice& c) { return c.optimizer && !c.optimizer_nvme && !c.params_nvme; }

std::string ratio_text(double r) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.2f", r);
  return text;
}

// `zero` with the whole optimizer step offloaded (ratio 1): what the choices' names say.
ZeroConfig whole_offload(const ZeroConfig& zero) {
  ZeroConfig whole = zero;
  whole.offload_optimizer.ratio = 1.0;
  return whole;
}

// "0.70 and up", or "0.70 to 0.85" where the host runs out above.
std::string describe(const RatioRange& r) {
  return ratio_text(r.smallest) + (r.largest >= 1.0 ? " and up" : " to " + ratio_text(r.largest));
}

}  // namespace

std::string describe_memory(const ModelSizes& m, const Config& config, int64_t gpu_capacity, int64_t host_available,
                            bool on_gpu) {
  const OffloadChoice chosen = offload_choice(config);
  char line[256];
  std::string out;
  // CPU ranks are processes: their figures are per rank, and the table of GPU choices says nothing there.
  const char* per = on_gpu ? "per GPU" : "per rank";
  if (on_gpu) {
    std::snprintf(line, sizeof(line),
                  "[zeroshard] memory estimate: %.4gM parameters (%.4gM in units, largest unit %.4gM), %d rank(s), "
                  "%d per host; per GPU (model states + gathered units + buffers) | per host (offloaded state)\n",
                  m.params / 1e6, m.unit_params / 1e6, m.largest_unit / 1e6, m.world_size, m.ranks_per_host);
    out += line;
  }
  // The table's offload choices are the whole offload (ratio 1), as their names say.
  const ZeroConfig whole = whole_offload(config.zero);
  for (const OffloadChoice& c : on_gpu ? all_choices() : std::vector<OffloadChoice>{}) {
    const MemoryEstimate e = estimate_memory(m, c, whole);
    std::snprintf(line, sizeof(line), "[zeroshard]   %-56s %11s | %11s\n", c.name().c_str(), gib(e.gpu_total()).c_str(),
                  gib(e.host * m.ranks_per_host).c_str());
    out += line;
  }
  const MemoryEstimate e = estimate_memory(m, chosen, config.zero);
  std::snprintf(line, sizeof(line),
                "[zeroshard] this run, %s: %s params %s + grads %s + optimizer %s = %s of model states, "
                "+ gathered units %s + buffers %s",
                chosen.name().c_str(), per, gib(e.params).c_str(), gib(e.grads).c_str(), gib(e.optimizer).c_str(),
                gib(e.gpu_model_states()).c_str(), gib(e.gathered).c_str(), gib(e.buffers).c_str());
  out += line;
  if (gpu_capacity > 0) out += " (the GPU has " + gib(double(gpu_capacity)) + ")";
  if (e.host > 0) {
    out += "; host " + gib(e.host * m.ranks_per_host) + " per host";
    if (host_available > 0) out += " (" + gib(double(host_available)) + " available)";
  }
  out += "\n";
  // A CPU offload can keep a share of the step on the GPU (offload_optimizer.ratio): the ratios
  // whose state this GPU and this host both have room for; the smallest is the fastest.
  const RatioRange fit = on_gpu && gpu_capacity > 0 ? fitting_ratios(m, chosen, config.zero, gpu_capacity, host_available)
                                                    : RatioRange();
  if (fit.any())
    out += "[zeroshard] offload_optimizer.ratio: this GPU and host have room for ratio " + describe(fit) +
           " (a smaller ratio keeps more of the step on the GPU; activations not counted; this run: " +
           ratio_text(config.zero.offload_optimizer.ratio) + ")\n";
  return out;
}

RatioRange fitting_ratios(const ModelSizes& m, const OffloadChoice& choice, const ZeroConfig& zero,
                          int64_t gpu_capacity, int64_t host_available) {
  RatioRange range;
  if (!takes_a_ratio(choice)) return range;
  ZeroConfig z = zero;
  for (int k = 0; k <= 20; ++k) {
    z.offload_optimizer.ratio = k / 20.0;
    if (!fits(m, choice, z, gpu_capacity, host_available, nullptr)) continue;
    if (range.smallest < 0) range.smallest = z.offload_optimizer.ratio;
    range.largest = z.offload_optimizer.ratio;
  }
  return range;
}

void check_memory_fits(const ModelSizes& m, const Config& config, int64_t gpu_capacity, int64_t host_available) {
  const OffloadChoice chosen = offload_choice(config);
  std::string why;
  if (fits(m, chosen, config.zero, gpu_capacity, host_available, &why)) return;
  std::string alternatives;
  // A partial offload the GPU or the host has no room for: the ratios that would fit come first;
  // the other choices as named (offloads whole, ratio 1).
  const RatioRange fit = fitting_ratios(m, chosen, config.zero, gpu_capacity, host_available);
  if (fit.any()) alternatives = "offload_optimizer.ratio " + describe(fit);
  const ZeroConfig whole = whole_offload(config.zero);
  for (const OffloadChoice& c : all_choices())
    if (c.stage >= chosen.stage && fits(m, c, whole, gpu_capacity, host_available, nullptr))
      alternatives += (alternatives.empty() ? "" : ", ") + c.name();
  throw ConfigError("this model does not fit: " + chosen.name() + " " + why + " (" + std::to_string(m.params) +
                    " parameters, " + std::to_string(m.world_size) + " rank(s)). " +
                    (alternatives.empty() ? "No stage or offload choice fits on this many ranks; add GPUs or nodes."
                                          : "These would fit: " + alternatives + "."));
}

}  // namespace zs
