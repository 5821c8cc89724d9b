// ZeRO++ at stage 3: how the units' parameter gathers and the gradient reduce-scatters travel. The
// seam between the parameter groups (and the engine's ReductionQueue) and the communicator; the
// engine makes one only when the config asks for some of it, and without one every gather and
// reduction is the plain collective it always was.
//
//   qwZ (zero_quantized_weights): a unit's all-gather sends this rank's shard as int8 blocks with
//       one float32 scale per block and restores every rank's part into the 16-bit/fp32 full
//       buffer (every rank, this one included, uses the restored values, so all ranks compute with
//       the same weights). Started where the plain gather starts, restored where it is waited.
//   qgZ (zero_quantized_gradients): a gradient reduce-scatter quantizes each destination's chunk,
//       exchanges them by all_to_all and sums what arrives in float32. On one node (or with one
//       rank per node): one hop in int8 over all ranks. Over several nodes: int4 within the node,
//       then int8 across nodes on the node's partial sums, so the cross-node link carries 1/(ranks
//       per node) of the gradients at 8 bits. Averaged as the plain reduction averages.
//   hpZ (zero_hpz_partition_size = g > 1): after a unit's gather from the primary shards, each
//       rank keeps 1/g of the gathered 16-bit values (its place in a group of g consecutive
//       ranks, the node); until the parameters change (optimizer step, checkpoint load) the
//       unit's next gathers (backward, recomputation, the next micro-steps) all-gather within that
//       group only. A group of g ranks that is not the machine's LOCAL_WORLD_SIZE emulates nodes
//       of g ranks (one machine standing for several nodes).
// The node groups (dist/node_groups.hpp): groups of g ranks with hpZ, else of LOCAL_WORLD_SIZE.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "zs/comm_codec/block_quantizer.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/node_groups.hpp"

namespace zs {

struct UnitCodecOptions {
  bool quantize_weights = false;    // qwZ
  bool quantize_gradients = false;  // qgZ
  int hpz_partition_size = 1;       // hpZ; 1: off
  int64_t block_size = 256;         // elements per quantization block (one float32 scale each)
};

class UnitCodec {
 public:
  // Collective over world.comm when node groups are needed (hpZ, or qgZ over several nodes).
  // Throws std::invalid_argument when the node layout cannot be made (see node_groups.hpp).
  UnitCodec(const World& world, const UnitCodecOptions& options);

  bool quantizes_weights() const { return weights_.has_value(); }
  bool quantizes_gradients() const { return gradients_.has_value(); }
  bool hierarchical_gradients() const { return hierarchical_; }
  // hpZ: the size of the secondary partition's group (1: off), its communicator and this rank's place.
  int secondary_size() const { return options_.hpz_partition_size; }
  Communicator& secondary_comm() const { return *groups_.node; }
  int secondary_rank() const { return groups_.layout.local_rank; }

  // A unit's gather of one bucket from the primary shards: output = the full bucket, input = this
  // rank's chunk (qwZ: quantized).
  WorkHandle all_gather(Communicator& comm, const at::Tensor& output, const at::Tensor& input) const;
  // A gradient reduce-scatter (qgZ: quantized, one or two hops); op sum or avg.
  WorkHandle reduce_scatter(Communicator& comm, const at::Tensor& output, const at::Tensor& input, ReduceOp op) const;

  // Reports the groups' collectives too (comms_logger, wall_clock_breakdown). Null: stop.
  void set_observer(const std::shared_ptr<CollectiveObserver>& observer);
  // One line for the engine's summary: what is on, the groups, the bits.
  std::string describe() const;

 private:
  UnitCodecOptions options_;
  std::optional<BlockQuantizer> weights_, gradients_, gradients_cross_;
  bool hierarchical_ = false;
  bool emulated_nodes_ = false;
  NodeGroups groups_;   // made only when needed
};

}  // namespace zs
