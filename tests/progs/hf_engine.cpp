// Loads a Hugging Face model directory straight into a training engine's shards (every rank reads
// only its own slices), runs the model on reference inputs, optionally trains a few steps, and
// exports the engine's weights back to a Hugging Face directory. Rank 0 writes what happened to a
// JSON file: loss and logits against the reference, load time, resident memory before and at
// the peak of the load. The interchange tests run it through zsrun at several stages and world
// sizes.
//
//   hf_engine --dir HF_DIR --config ds.json --out result.json [--ref ref.safetensors]
//             [--export OUT_DIR] [--steps N] [--activation_checkpointing] [--meta]
#include <cmath>
#include <fstream>
#include <iostream>

#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <CLI/CLI.hpp>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "zs/ckpt/safetensors.hpp"
#include "zs/config/config.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/world.hpp"
#include "zs/engine/engine.hpp"
#include "zs/hf/hf_config.hpp"
#include "zs/hf/hf_export.hpp"
#include "zs/hf/hf_load.hpp"
#include "zs/hf/hf_weight_files.hpp"
#include "zs/models/llama/llama.hpp"
#include "zs/monitor/memory.hpp"

int main(int argc, char** argv) {
  CLI::App app{"load a Hugging Face directory into an engine, run it, export it"};
  std::string dir, config_path, out_path, ref_path, export_dir;
  int64_t steps = 0;
  bool checkpointing = false, meta = false;
  app.add_option("--dir", dir, "Hugging Face model directory (Llama)")->required();
  app.add_option("--config", config_path, "DeepSpeed JSON config")->required();
  app.add_option("--out", out_path, "where rank 0 writes the result JSON")->required();
  app.add_option("--ref", ref_path, "reference inputs, labels, logits and loss (safetensors)");
  app.add_option("--export", export_dir, "export the engine's weights here at the end");
  app.add_option("--steps", steps, "training steps after the load (on random tokens)");
  app.add_flag("--activation_checkpointing", checkpointing);
  app.add_flag("--meta", meta, "build the model on the meta device, zeros from the engine, then the directory's weights");
  CLI11_PARSE(app, argc, argv);
  try {
    zs::World world = zs::init_distributed(zs::DevicePreference::cpu);
    const zs::Config config = zs::load_config(config_path, world.size());
    const zs::LlamaConfig llama = zs::llama_config_from_hf(zs::read_hf_config(dir), dir);
    torch::manual_seed(0);
    zs::Llama model(llama, meta ? c10::Device(c10::kMeta) : c10::Device(c10::kCPU));
    zs::EngineOptions options;
    options.log = false;
    options.activation_checkpointing = checkpointing;
    if (meta) options.meta_init = zs::zero_init;
    zs::Engine engine(model, config, world, options);

    const int64_t rss_before = zs::device_memory(c10::Device(c10::kCPU)).allocated;
    zs::reset_peak_memory(c10::Device(c10::kCPU));
    const zs::HfLoadStats stats = zs::load_hf_weights(engine, dir);
    nlohmann::json result = {{"rss_before", rss_before},
                             {"rss_peak", stats.peak_rss_bytes},
                             {"load_seconds", stats.seconds},
                             {"files", stats.files},
                             {"bytes_read", stats.bytes_read}};
    int64_t largest_file = 0;
    const zs::HfWeightFiles files(dir);
    for (const std::string& f : files.files()) largest_file = std::max(largest_file, zs::file_size_or_minus_one(dir + "/" + f));
    result["largest_file"] = largest_file;
    // Every rank's own figures, for the test to look at the worst.
    for (const char* key : {"rss_before", "rss_peak", "bytes_read"}) {
      at::Tensor v = at::full({world.size()}, 0, at::TensorOptions().dtype(at::kLong));
      v[world.rank()] = result[key].get<int64_t>();
      world.comm->all_reduce(v, zs::ReduceOp::sum)->wait();
      result[std::string(key) + "_per_rank"] = std::vector<int64_t>(v.data_ptr<int64_t>(), v.data_ptr<int64_t>() + v.numel());
    }

    if (!ref_path.empty()) {
      const zs::SafetensorsReader ref(ref_path);
      c10::NoGradGuard no_grad;
      zs::FullParameters full(engine);
      model->eval();
      const zs::LlamaOutput out = model->forward_with_labels(ref.read("input_ids"), ref.read("labels"));
      const at::Tensor want = ref.read("logits");
      result["logits_error"] = (out.logits.to(at::kFloat) - want).abs().max().item<double>() / want.abs().max().item<double>();
      result["loss"] = out.loss.item<double>();
      result["ref_loss"] = ref.read("loss").item<double>();
      model->train();
    }
    for (int64_t s = 0; s < steps; ++s) {
      for (int64_t m = 0; m < config.gradient_accumulation_steps; ++m) {
        const at::Tensor ids = at::randint(0, llama.vocab_size, {config.train_micro_batch_size_per_gpu, 9});
        engine.backward(model->forward_with_labels(ids, ids).loss);
        engine.step();
      }
      result["train_loss"].push_back(engine.last_loss());
    }
    if (!export_dir.empty()) {
      zs::HfExportOptions export_options;
      export_options.dtype = at::kFloat;
      export_options.max_shard_bytes = 20000;
      result["export_files"] = zs::save_hf_pretrained(engine, export_dir, export_options).files;
    }
    if (world.is_main()) std::ofstream(out_path) << result.dump(2);
  } catch (const std::exception& e) {
    std::cerr << "hf_engine: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
