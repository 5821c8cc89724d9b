#include "zs/trainer/trainer.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include <ATen/ops/zeros.h>
#include <torch/utils.h>

#include "zs/base/strings.hpp"
#include "zs/ckpt/checkpoint.hpp"
#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/checkpoint_list.hpp"
#include "zs/ckpt/rank_agreement.hpp"
#include "zs/data/synthetic_text.hpp"
#include "zs/dist/communicator.hpp"
#include "zs/dist/test_faults.hpp"
#include "zs/engine/engine.hpp"
#include "zs/engine/graphed_loss.hpp"
#include "zs/monitor/format.hpp"
#include "zs/trainer/flag_set.hpp"

namespace zs {

namespace {

DevicePreference preference_of(const std::string& device) {
  if (device == "cpu") return DevicePreference::cpu;
  if (device == "cuda") return DevicePreference::cuda;
  return DevicePreference::automatic;
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string current_directory() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

// Whether `dir` already holds checkpoints of some run.
bool holds_checkpoints(const std::string& dir) {
  return path_exists(join_path(dir, "latest")) || !list_checkpoints(dir, false).empty();
}

}  // namespace

Trainer::Trainer(const FlagSet& flags, TrainFlags& f) : flags_(flags), f_(f), best_val_(INFINITY) {
  check_train_flags(flags_, f_);
  world_ = init_distributed(preference_of(f_.device));
  if (f_.backend == "nccl" && !world_.device.is_cuda())
    throw ConfigError(flags_.describe("backend") + ": NCCL needs GPUs; CPU ranks talk over MPI (leave --backend out)");
  if (f_.backend == "mpi" && world_.device.is_cuda())
    throw ConfigError(flags_.describe("backend") + ": GPU ranks talk over NCCL (leave --backend out)");
  resolve_accumulation(flags_, f_, world_.size());
  // A job restarted by its launcher (zsrun --max_restarts, torchrun --max-restarts) runs the same
  // command again: it continues from its newest checkpoint, if it got to write one.
  if (world_.info.restart_count > 0 && !f_.eval_only && f_.init_from != "resume" && !f_.out_dir.empty() &&
      holds_checkpoints(f_.out_dir)) {
    print("restart " + std::to_string(world_.info.restart_count) + " of the job: resuming from the newest checkpoint in " +
          f_.out_dir);
    f_.init_from = "resume";
  }
  const bool saves = !f_.eval_only && !f_.out_dir.empty();
  if (saves && f_.init_from != "resume" && holds_checkpoints(f_.out_dir))
    throw ConfigError("--out_dir " + f_.out_dir + " already holds checkpoints of another run; this run (--init_from=" +
                      f_.init_from + ") would mix its own in. Resume it with --init_from=resume, or pick another "
                      "--out_dir (or remove " + f_.out_dir + ")");
  if (saves) {
    // As nanoGPT makes out_dir at start: a folder that cannot be made fails now, not at the first save.
    if (path_exists(f_.out_dir) && !is_directory(f_.out_dir))
      throw ConfigError("--out_dir " + f_.out_dir + " is a file, not a folder");
    if (world_.is_main() && f_.init_from != "resume") {  // a resume needs the folder to be there
      try {
        make_directories(f_.out_dir);
      } catch (const CheckpointError& e) {
        throw ConfigError("--out_dir " + f_.out_dir + ": " + e.what());
      }
    }
  }
  for (const std::string& file : flags_.config_files()) print("config file " + file + " (flags override it)");
}

Trainer::~Trainer() = default;

void Trainer::print(const std::string& text) const {
  if (!world_.is_main()) return;
  std::printf("[%s] %s\n", flags_.program().c_str(), text.c_str());
  std::fflush(stdout);
}

namespace {

// A data folder: nanoGPT's prepared train.bin/val.bin (and meta.pkl), or input.txt read char-level.
TokenData load_data_folder(const std::string& dir, int64_t vocab_size) {
  const bool train_bin = path_exists(join_path(dir, "train.bin")), val_bin = path_exists(join_path(dir, "val.bin"));
  if (train_bin && !val_bin) throw ConfigError(dir + " has train.bin but no val.bin; nanoGPT's prepare scripts write both");
  if (!train_bin && val_bin) throw ConfigError(dir + " has val.bin but no train.bin; nanoGPT's prepare scripts write both");
  if (train_bin) return TokenData::from_bin_folder(dir, vocab_size);
  if (path_exists(join_path(dir, "input.txt"))) return TokenData::from_text_file(join_path(dir, "input.txt"));
  throw ConfigError(dir + " holds neither train.bin/val.bin (a prepared nanoGPT dataset) nor input.txt (text read "
                    "char-level)");
}

}  // namespace

TokenData Trainer::load_token_data(int64_t vocab_size) const {
  try {
    if (!f_.data.empty()) {
      if (is_directory(f_.data)) return load_data_folder(f_.data, vocab_size);
      if (!path_exists(f_.data)) throw ConfigError(flags_.describe("data") + ": no such file or folder");
      return TokenData::from_text_file(f_.data);
    }
    if (f_.dataset.empty()) return TokenData::from_text(synthetic_text(1 << 20, 1), 0.9, "generated text");
    const std::string dir = join_path("data", f_.dataset);
    if (!is_directory(dir))
      throw ConfigError(flags_.describe("dataset") + " is the folder " + dir + " (nanoGPT's layout), which does not exist in " +
                        current_directory() + ". Prepare it there (nanoGPT's data/" + f_.dataset +
                        "/prepare.py, or scripts/prepare_char_dataset.py TEXT " + dir + " for a local text file), put "
                        "a text file at " + dir + "/input.txt, or pass --data PATH");
    return load_data_folder(dir, vocab_size);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw ConfigError(e.what());
  }
}

nlohmann::json Trainer::resume_state() {
  if (f_.init_from != "resume") return nullptr;
  if (!resume_tag_.empty()) return resume_client_;
  if (f_.out_dir.empty())
    throw ConfigError("--init_from=resume needs --out_dir, the directory of the checkpoints (nanoGPT's default `out` "
                      "is not assumed: a run here saves checkpoints only where --out_dir names a folder)");
  std::string tag, error;
  if (world_.is_main()) {
    try {
      tag = choose_resume_tag(f_.out_dir, f_.resume_tag, "--resume_tag");
    } catch (const CheckpointError& e) {
      error = e.what();
    }
  }
  tag = broadcast_string(world_, error.empty() ? tag : std::string());
  if (tag.empty()) throw ConfigError(world_.is_main() ? error : "cannot resume (rank 0 says why)");
  resume_tag_ = tag;
  try {
    resume_client_ = read_checkpoint_index(f_.out_dir, tag).client_state;
  } catch (const CheckpointError& e) {
    throw ConfigError(e.what());
  }
  const std::string writer = resume_client_.is_object() ? resume_client_.value("trainer", std::string()) : std::string();
  if (!writer.empty() && writer != flags_.program())
    throw ConfigError(join_path(f_.out_dir, tag) + " was written by " + writer + ", another model's trainer; resume it with " +
                      writer);
  return resume_client_;
}

void Trainer::adopt_model_args(FlagSet& flags, const nlohmann::json& client_state,
                               const std::vector<std::string>& names) const {
  if (!client_state.is_object() || !client_state.contains("model")) return;
  adopt_args(flags, client_state["model"], names, "the checkpoint " + join_path(f_.out_dir, resume_tag_),
             "a resumed run keeps the saved model's shape");
}

void adopt_args(FlagSet& flags, const nlohmann::json& args, const std::vector<std::string>& names,
                const std::string& where, const std::string& why) {
  for (const std::string& name : names) {
    if (!args.is_object() || !args.contains(name)) continue;
    const nlohmann::json& v = args[name];
    const std::string text = v.is_boolean() ? (v.get<bool>() ? "True" : "False") : v.is_string() ? v.get<std::string>() : v.dump();
    const std::string before = flags.value_text(name), given = flags.given(name) ? flags.describe(name) : "";
    flags.set(name, text, where);
    if (!given.empty() && flags.value_text(name) != before)
      throw ConfigError(given + " differs from " + name + " = " + flags.value_text(name) + " of " + where + ": " + why +
                        " (leave " + name + " out)");
  }
}

namespace {

bool is_gpt2_name(const std::string& s) {
  return s == "gpt2" || s == "gpt2-medium" || s == "gpt2-large" || s == "gpt2-xl";
}

// Where transformers keeps what it downloads (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).
std::string hub_cache() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
  };
  if (!env("HF_HUB_CACHE").empty()) return env("HF_HUB_CACHE");
  if (!env("HF_HOME").empty()) return join_path(env("HF_HOME"), "hub");
  if (!env("XDG_CACHE_HOME").empty()) return join_path(env("XDG_CACHE_HOME"), "huggingface/hub");
  return join_path(env("HOME"), ".cache/huggingface/hub");
}

// The local copy of the hub's GPT-2 `name` (what `huggingface-cli download` or
// from_pretrained left in the cache), or "".
std::string cached_gpt2_folder(const std::string& name) {
  for (const std::string& repo : {"models--openai-community--" + name, "models--" + name}) {
    const std::string root = join_path(hub_cache(), repo);
    if (!is_directory(join_path(root, "snapshots"))) continue;
    std::vector<std::string> snapshots;
    if (path_exists(join_path(root, "refs/main"))) {
      std::string ref = read_text_file(join_path(root, "refs/main"));
      while (!ref.empty() && (ref.back() == '\n' || ref.back() == ' ')) ref.pop_back();
      snapshots.push_back(ref);
    }
    for (const std::string& s : list_directory(join_path(root, "snapshots"))) snapshots.push_back(s);
    for (const std::string& s : snapshots) {
      const std::string dir = join_path(join_path(root, "snapshots"), s);
      if (path_exists(join_path(dir, "config.json"))) return dir;
    }
  }
  return "";
}

}  // namespace

std::string Trainer::hf_folder() const {
  const std::string& from = f_.init_from;
  if (from == "scratch" || from == "resume") return "";
  if (is_gpt2_name(from) && !path_exists(from)) return cached_gpt2_folder(from);
  if (is_directory(from) && path_exists(join_path(from, "config.json")) && !path_exists(join_path(from, "latest")))
    return from;
  return "";
}

std::string Trainer::init_weights(TrainerModel& m) {
  const std::string& from = f_.init_from;
  if (from == "scratch" || from == "resume") return "";
  const std::string what = flags_.describe("init_from");
  const std::string cannot = flags_.program() + " cannot read Hugging Face folders yet: pass a .safetensors file with "
                             "this model's parameter names (zs_ckpt consolidate writes one)";
  if (!path_exists(from)) {
    if (is_gpt2_name(from)) {
      const std::string folder = cached_gpt2_folder(from);
      if (folder.empty())
        throw ConfigError(what + ": nanoGPT downloads these weights from the Hugging Face hub; ZeroShard reads local "
                                 "files only and found no copy in the Hugging Face cache (" + hub_cache() + "). Fetch "
                                 "one with `huggingface-cli download openai-community/" + from + "`, or pass a folder "
                                 "(config.json + model.safetensors) as --init_from=DIR");
      if (!m.load_hf_folder) throw ConfigError(what + ": the Hugging Face cache holds " + folder + ", but " + cannot);
      print("init_from " + from + ": the Hugging Face cache's copy, " + folder);
      return folder;
    }
    if (from.rfind("gpt2", 0) == 0)
      throw ConfigError(what + ": nanoGPT's names are gpt2, gpt2-medium, gpt2-large and gpt2-xl");
    throw ConfigError(what + ": no such file or folder (expected scratch, resume, a .safetensors file or a model folder)");
  }
  try {
    if (is_directory(from)) {
      if (path_exists(join_path(from, "latest")) || path_exists(join_path(from, "index.json")))
        throw ConfigError(what + " is a ZeroShard checkpoint folder: continue it with --init_from=resume --out_dir=" + from +
                          ", or start from its weights with `zs_ckpt consolidate " + from + " weights.safetensors` and "
                          "--init_from=weights.safetensors");
      if (!path_exists(join_path(from, "config.json")))
        throw ConfigError(what + " is a folder without config.json: expected a Hugging Face model folder or a .safetensors file");
      if (!m.load_hf_folder) throw ConfigError(what + " is a Hugging Face model folder, but " + cannot);
      return from;   // loaded into the engine's shards once it exists
    }
    if (ends_with(from, ".pt") || ends_with(from, ".pth") || ends_with(from, ".bin") || ends_with(from, ".ckpt"))
      throw ConfigError(what + " is a PyTorch pickle (like nanoGPT's ckpt.pt), which C++ cannot read safely; save the "
                               "weights as safetensors (safetensors.torch.save_file) and pass that file");
    if (path_exists(join_path(parent_directory(from), "config.json")) && ends_with(from, ".safetensors"))
      throw ConfigError(what + " is one file of a Hugging Face model folder (config.json beside it): pass the folder, "
                               "--init_from=" + parent_directory(from) +
                        (m.load_hf_folder ? std::string() : " (but " + cannot + ")"));
    if (!m.load_weights) throw ConfigError(what + ": this program cannot load weights files");
    m.load_weights(from);
    print("initialized from " + from);
  } catch (const CheckpointError& e) {
    throw ConfigError(what + ": " + e.what());
  }
  return "";
}

int64_t Trainer::resume(TrainerModel& m) {
  resume_state();
  nlohmann::json client;
  try {
    client = load_checkpoint(*engine_, f_.out_dir, resume_tag_);
  } catch (const CheckpointError& e) {
    // Every rank is here (the load agrees on failures). Rank 0 lists the checkpoints, which can
    // take a while (CRC32 checks); the others wait for it, so that no rank leaves (and has the
    // launcher stop the job) before the message is out.
    std::string message = e.what();
    if (world_.is_main()) message += "\n" + describe_checkpoints(f_.out_dir, "--resume_tag");
    broadcast_string(world_, "");
    throw ConfigError(message);
  }
  const int64_t iter = client.value("iter", int64_t(0));
  if (client.contains("best_val")) {
    best_val_ = client["best_val"].get<double>();
    best_step_ = client.value("best_step", int64_t(-1));
  }
  last_saved_ = iter;
  print("resumed from " + join_path(f_.out_dir, resume_tag_) + " at iteration " + std::to_string(iter) +
        (best_step_ >= 0 ? printf_string(" (best val loss %.4f at step %lld)", best_val_, (long long)best_step_) : ""));
  return iter;
}

std::pair<double, double> Trainer::estimate_loss(TrainerModel& m) {
  torch::NoGradGuard no_grad;
  m.module->eval();
  double out[2];
  for (int s = 0; s < 2; ++s) {
    const Split split = s == 0 ? Split::Train : Split::Val;
    at::Tensor total = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(world_.device));
    for (int64_t k = 0; k < f_.eval_iters; ++k) {
      const BatchRef ref{split, kEvalStream + k, 0, world_.rank(), world_.size(), config_.train_micro_batch_size_per_gpu};
      total += m.loss(m.batch(ref)).to(at::kFloat);
    }
    total /= double(f_.eval_iters);
    world_.comm->all_reduce(total, ReduceOp::avg)->wait();
    out[s] = total.item<double>();
  }
  m.module->train();
  return {out[0], out[1]};
}

void Trainer::save(int64_t iter, const TrainerModel& m) {
  if (f_.out_dir.empty() || iter == last_saved_) return;
  nlohmann::json client = {{"iter", iter}, {"trainer", flags_.program()}};
  if (best_step_ >= 0) client["best_val"] = best_val_, client["best_step"] = best_step_;
  if (!m.model_args.is_null()) client["model"] = m.model_args;
  const std::string tag = save_checkpoint(*engine_, f_.out_dir, "", client, {f_.keep_last});
  last_saved_ = iter;
  print("saved checkpoint " + join_path(f_.out_dir, tag) +
        (f_.keep_last > 0 ? " (keeping the newest " + std::to_string(f_.keep_last) + ")" : ""));
}

namespace {

// nanoGPT's schedule around the optimizer's lr: a DeepSpeed config's own lr stands where
// --learning_rate was not given (a given one that contradicts it was refused), and min_lr keeps its
// ratio to it unless --min_lr was given. A min_lr above the peak is an error that names the peak.
TrainFlags nanogpt_schedule(const FlagSet& flags, const TrainFlags& given, const Config& config) {
  TrainFlags f = given;
  const bool config_lr = config.optimizer.lr != f.learning_rate;
  if (config_lr) {
    if (!flags.given("min_lr")) f.min_lr = f.learning_rate > 0 ? f.min_lr * config.optimizer.lr / f.learning_rate : 0.0;
    f.learning_rate = config.optimizer.lr;
  }
  if (f.decay_lr && f.min_lr > f.learning_rate)
    throw ConfigError(flags.describe("min_lr") + " is above the schedule's peak lr " + printf_string("%g", f.learning_rate) +
                      (config_lr ? " (the config's optimizer.params.lr)" : " (--learning_rate)"));
  return f;
}

}  // namespace

void Trainer::run(TrainerModel& m) {
  std::vector<std::string> notes;
  config_ = make_train_config(flags_, f_, world_, m.autos, notes);
  // Checked before anything is built or loaded: a bad min_lr is a flag error.
  std::optional<TrainFlags> nanogpt;
  if (!config_.scheduler) {
    nanogpt = nanogpt_schedule(flags_, f_, config_);
    if (nanogpt->learning_rate != f_.learning_rate)
      print("lr schedule: nanoGPT's (decay_lr " + std::string(nanogpt->decay_lr ? "True" : "False") +
            ") with the config's lr " + printf_string("%g", nanogpt->learning_rate) +
            (nanogpt->decay_lr ? ", min_lr " + printf_string("%g", nanogpt->min_lr) : std::string()));
  }
  const std::string hf_folder = init_weights(m);

  EngineOptions options;
  options.decay = m.decay;
  options.tokens_per_sample = m.tokens_per_sample;
  options.sample_name = m.sample_name;
  options.flops_per_token = m.flops_per_token;
  options.total_steps = f_.eval_only ? 0 : f_.max_iters;
  options.activation_checkpointing = f_.activation_checkpointing;
  options.meta_init = m.meta_init;
  options.metrics_jsonl = f_.log_jsonl;
  if (!m.module || !m.batch || !m.loss) throw std::logic_error("TrainerModel needs a module, a batch and a loss");
  module_ = m.module;
  engine_ = std::make_unique<Engine>(*module_, config_, world_, options);
  if (nanogpt) engine_->set_lr_schedule([f = *nanogpt](int64_t step) { return nanogpt_lr(f, step); });
  if (!hf_folder.empty()) {
    try {
      m.load_hf_folder(hf_folder, *engine_);
    } catch (const CheckpointError& e) {
      throw ConfigError(flags_.describe("init_from") + ": " + e.what());
    }
    print("initialized from the Hugging Face folder " + hf_folder);
  }
  train_loss_ = m.loss;
  if (f_.cuda_graph) {
    try {
      train_loss_ = make_graphed_loss(*engine_, *module_, m.loss);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(flags_.describe("cuda_graph") + ": " + e.what());
    }
    print("cuda graph: each micro-step's forward and backward replay as two CUDA graphs (captured at the first)");
  }
  torch::manual_seed(uint64_t(f_.seed + world_.rank()));  // dropout differs per rank, as in nanoGPT
  const int64_t start = f_.init_from == "resume" ? resume(m) : 0;

  for (const std::string& note : notes) print(note);
  if (!m.description.empty()) print(m.description);
  const int64_t samples = config_.train_batch_size;
  if (m.tokens_per_sample > 0)
    print(with_commas(samples * m.tokens_per_sample) + " tokens per iteration (" + std::to_string(samples) +
          " samples of " + std::to_string(m.tokens_per_sample) + " tokens)");
  if (f_.eval_only) {
    print("evaluation only: " + std::to_string(f_.eval_iters) + " batches per split");
  } else if (start >= f_.max_iters) {
    print("nothing to train: the run is at iteration " + std::to_string(start) + " of --max_iters " +
          std::to_string(f_.max_iters));
  } else {
    print("iterations " + std::to_string(start) + " to " + std::to_string(f_.max_iters) +
          (f_.eval_interval > 0 ? ", evaluating every " + std::to_string(f_.eval_interval) : std::string(", no evaluation")) +
          (f_.out_dir.empty() ? ", no checkpoints" : ", checkpoints in " + f_.out_dir));
  }

  const int64_t micro = config_.train_micro_batch_size_per_gpu;
  for (int64_t iter = start;; ++iter) {
    const bool evaluate = f_.eval_only || (f_.eval_interval > 0 && (iter % f_.eval_interval == 0 || iter == f_.max_iters));
    if (evaluate) {
      engine_->broadcast_buffers();   // BatchNorm: every rank evaluates (and saves) rank 0's statistics
      const auto [train_loss, val_loss] = estimate_loss(m);
      print(printf_string("step %lld: train loss %.4f, val loss %.4f", (long long)iter, train_loss, val_loss));
      if (m.evaluate) {
        torch::NoGradGuard no_grad;
        m.module->eval();
        const std::string metrics = m.evaluate();
        m.module->train();
        print(printf_string("step %lld: ", (long long)iter) + metrics);
      }
      const bool improved = val_loss < best_val_;
      if (improved) best_val_ = val_loss, best_step_ = iter;
      if (!f_.eval_only && iter > start && (f_.always_save_checkpoint || improved)) save(iter, m);
    }
    if (f_.eval_only || iter >= f_.max_iters) break;
    inject_test_fault(world_, iter);
    for (int64_t k = 0; k < config_.gradient_accumulation_steps; ++k) {
      const BatchRef ref{Split::Train, iter, k, world_.rank(), world_.size(), micro};
      engine_->backward(train_loss_(m.batch(ref)));
      engine_->step();
    }
    if (f_.save_interval > 0 && (iter + 1) % f_.save_interval == 0) save(iter + 1, m);
  }
  if (!f_.eval_only && f_.eval_interval == 0 && start < f_.max_iters) save(f_.max_iters, m);
  if (best_step_ >= 0 && !f_.eval_only)
    print(printf_string("best val loss %.4f at step %lld", best_val_, (long long)best_step_));
}

int trainer_main(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const ConfigError& e) {
    // Flags, config files and inputs are the same on every rank: one message is enough.
    int rank = 0;
    try {
      rank = detect_rank_info().rank;
    } catch (const std::exception&) {
    }
    if (rank == 0) {
      std::fprintf(stderr, "%s: error: %s\n", program, e.what());
      return 2;
    }
    // Rank 0 has (nearly always) the same message and prints it; the launcher stops this rank
    // when rank 0 leaves. Should rank 0 be fine and run on, this rank's problem is its own: say it.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    std::fprintf(stderr, "%s: error on rank %d: %s\n", program, rank, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace zs
