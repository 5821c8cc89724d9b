// Loading a Hugging Face model directory's weights (HfWeightFiles) into a ZeroShard model by name
// (HfPlan), either into a plain module or straight into a training engine's shards.
//
//   zs::Llama model(zs::llama_config_from_hf(zs::read_hf_config(dir), dir));   // or a meta-device model
//   zs::Engine engine(model, config, world);
//   zs::load_hf_weights(engine, dir);                                           // every rank calls it
//
// Into an engine, each rank reads, file after file, only the elements [begin, end) of each
// flattened parameter that it owns (Engine::param_shards) into its fp32 masters (through
// ParamShard::write, wherever the optimizer state lives), in bounded pieces, then the engine
// refreshes its 16-bit parameters: no rank ever holds the whole model, and host memory stays at a
// piece of one tensor whatever the model's size. Every file tensor must be a parameter of the model (or a known buffer), with
// its shape; every parameter must be in the files. bf16, fp16 and fp32 files are converted.
#pragma once

#include <cstdint>
#include <string>

#include <torch/nn/module.h>

namespace zs {

class Engine;

struct HfLoadStats {
  int files = 0;
  int64_t tensors = 0;            // file tensors this rank read from
  int64_t bytes_read = 0;         // by this rank
  double seconds = 0;
  int64_t peak_rss_bytes = 0;     // this process's VmHWM after the load
};

// Collective; on any rank's error every rank throws CheckpointError (the lowest failing rank's
// message). The optimizer state is left as it is (a fresh start).
HfLoadStats load_hf_weights(Engine& engine, const std::string& dir);

// Into a module's parameters (any device and dtype; not meta). Throws CheckpointError.
HfLoadStats load_hf_weights(torch::nn::Module& module, const std::string& dir);

}  // namespace zs
