// What each ZeRO stage keeps whole or sharded, and when it talks (DESIGN.md's stage table).
// The reducer, the optimizer and the memory estimate read these flags; no other code asks "which
// stage is this?".
#pragma once

#include <stdexcept>
#include <string>

namespace zs {

struct StagePolicy {
  int stage = 0;
  bool shard_optimizer = false;   // fp32 master + optimizer state: this rank's chunks only
  bool shard_gradients = false;   // no full gradient buffer; buckets stream into shard gradients
  bool gather_after_step = false; // all-gather updated 16-bit parameters after the step
  bool reduce_every_micro_step = false;  // communicate on every micro-step, not only at the boundary
  bool partition_parameters = false;     // stage 3: units keep only their shard between uses

  int partitions(int world_size) const { return shard_optimizer ? world_size : 1; }

  static StagePolicy for_stage(int stage) {
    StagePolicy p;
    p.stage = stage;
    switch (stage) {
      case 0: break;
      case 1: p.shard_optimizer = p.gather_after_step = true; break;
      case 2: p.shard_optimizer = p.gather_after_step = p.shard_gradients = p.reduce_every_micro_step = true; break;
      // Stage 3: unit parameters are partitioned (ShardedUnit); the rest (embeddings outside any
      // unit, parameters under the persistence threshold) stay gathered and behave as in stage 2.
      case 3:
        p.shard_optimizer = p.gather_after_step = p.shard_gradients = p.reduce_every_micro_step = true;
        p.partition_parameters = true;
        break;
      default: throw std::invalid_argument("ZeRO stage " + std::to_string(stage) + " has no stage policy in this build");
    }
    return p;
  }
};

}  // namespace zs
