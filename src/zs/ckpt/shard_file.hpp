// One rank's shard file of a checkpoint (rank_<r>_of_<N>.safetensors, see checkpoint_index.hpp),
// described explicitly: which slice of which parameter the rank holds, and which optimizer state
// goes with it. save_checkpoint describes an engine's shards this way; a program can describe any
// other valid layout (bench/bench_consolidate.cpp writes a full-size GPT-2 checkpoint with it).
//
// The file's header metadata records the slices and state keys, so rank 0 can build the index
// from the headers of every rank's file without gathering the slices over the network.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/file_io.hpp"

namespace zs {

// Elements [begin, end) of the flattened parameter `param` (begin < end).
struct ShardSlice {
  std::string param;
  int64_t begin = 0, end = 0;
};

struct ShardFilePlan {
  int rank = 0, world_size = 1;
  std::vector<ShardSlice> slices;          // in file order, each parameter at most once
  std::vector<std::string> state_keys;     // saved for every slice after "master", e.g. exp_avg, exp_avg_sq
  // Written after the slices as they are: "__rng__.cpu", and on rank 0 "__module__.<name>".
  std::vector<std::pair<std::string, at::Tensor>> extra_tensors;
};

// The tensor of a slice's `key` ("master" or a state key): fp32, end - begin elements, any shape
// and device. Called once per tensor, in file order, when the writer reaches it; the writer drops
// it after copying it out, so producing it on the fly keeps one tensor in memory at a time.
using SliceTensorFn = std::function<at::Tensor(const ShardSlice& slice, const std::string& key)>;

// Writes the file atomically (AtomicFileWriter) and returns its size and CRC32.
FileSummary write_shard_file(const std::string& path, const ShardFilePlan& plan, const SliceTensorFn& tensor_of);

// Completes an index whose params (names and shapes, in model order) and world_size are set: adds
// every rank's file of <tag_dir> (size and CRC32 from summaries[rank]), each parameter's slices
// (sorted by begin) and the optimizer state keys, all read from the files' headers.
void add_shard_files_to_index(CheckpointIndex& index, const std::string& tag_dir,
                              const std::vector<FileSummary>& summaries);

}  // namespace zs
