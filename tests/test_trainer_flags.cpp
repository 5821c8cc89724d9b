// The trainers' command line: nanoGPT-style config files, --key=value flags, their checks, and the
// DeepSpeed config they assemble.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "support/error_of.hpp"
#include "support/run_ranks.hpp"
#include "zs/config/config.hpp"
#include "zs/dist/world.hpp"
#include "zs/trainer/config_file.hpp"
#include "zs/trainer/flag_set.hpp"
#include "zs/trainer/train_flags.hpp"

namespace test_trainer_flags {

using zs::ConfigError;
using zs::ConfigLiteral;

namespace {

// The message of the ConfigError that `f` throws ("" if it throws none).
template <class F>
std::string error_of(F&& f) {
  return zs::testing::error_of<ConfigError>(std::forward<F>(f));
}

using zs::testing::contains;

// A trainer's flags (the shared ones plus two model flags), parsed from `args`.
struct Parsed {
  zs::FlagSet flags{"train_test", "test"};
  zs::TrainFlags f;
  int64_t n_layer = 12, n_head = 12, n_embd = 768, block_size = 1024;
  double dropout = 0.0;
  std::optional<int> code;

  explicit Parsed(std::vector<std::string> args) {
    zs::add_train_flags(flags, f);
    flags.add("n_layer", n_layer, "");
    flags.add("n_head", n_head, "");
    flags.add("n_embd", n_embd, "");
    flags.add("block_size", block_size, "");
    flags.add("dropout", dropout, "");
    args.insert(args.begin(), "train_test");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    code = flags.parse(int(argv.size()), argv.data());
  }
};

std::string parse_error(const std::vector<std::string>& args) {
  return error_of([&] { Parsed p(args); });
}

std::string write_file(const std::string& name, const std::string& text) {
  static const std::string dir = zs::testing::temp_dir("trainer_flags");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(ConfigFile, ReadsNanoGptLiterals) {
  const auto entries = zs::parse_config_file(
      "# comment\n"
      "out_dir = 'out-shakespeare-char'\n"
      "eval_interval = 250 # keep frequent\n"
      "\n"
      "always_save_checkpoint = False\n"
      "wandb_run_name = \"mini # gpt\"  # a # inside quotes stays\n"
      "learning_rate = 1e-3\n"
      "min_lr=6e-5\n"
      "gradient_accumulation_steps = 5 * 8\n"
      "max_iters = 600_000\n"
      "beta2 = .99\n"
      "seed = -1\n"
      "eval_only = True\r\n",
      "cfg.py");
  EXPECT_EQ(zs::parse_config_file("\xEF\xBB\xBF" "batch_size = 4\n", "bom.py").at(0).key, "batch_size");
  ASSERT_EQ(entries.size(), 11u);
  EXPECT_EQ(entries[0].key, "out_dir");
  EXPECT_EQ(entries[0].value.kind, ConfigLiteral::Kind::string);
  EXPECT_EQ(entries[0].value.string, "out-shakespeare-char");
  EXPECT_EQ(entries[0].line, 2);
  EXPECT_EQ(entries[1].value.integer, 250);
  EXPECT_EQ(entries[1].line, 3);
  EXPECT_EQ(entries[2].value.kind, ConfigLiteral::Kind::boolean);
  EXPECT_FALSE(entries[2].value.boolean);
  EXPECT_EQ(entries[3].value.string, "mini # gpt");
  EXPECT_EQ(entries[4].value.kind, ConfigLiteral::Kind::floating);
  EXPECT_DOUBLE_EQ(entries[4].value.floating, 1e-3);
  EXPECT_DOUBLE_EQ(entries[5].value.floating, 6e-5);
  EXPECT_EQ(entries[6].value.kind, ConfigLiteral::Kind::integer);
  EXPECT_EQ(entries[6].value.integer, 40);
  EXPECT_EQ(entries[7].value.integer, 600000);
  EXPECT_DOUBLE_EQ(entries[8].value.floating, 0.99);
  EXPECT_EQ(entries[9].value.integer, -1);
  EXPECT_TRUE(entries[10].value.boolean);
}

TEST(ConfigFile, RefusesWhatIsNotALiteralWithFileAndLine) {
  auto err = [](const std::string& text) { return error_of([&] { zs::parse_config_file(text, "c.py"); }); };
  EXPECT_TRUE(contains(err("import time\n"), "c.py:1")) << err("import time\n");
  EXPECT_TRUE(contains(err("import time\n"), "does not run Python"));
  EXPECT_TRUE(contains(err("a = 1\n  b = 2\n"), "c.py:2: indented line"));
  EXPECT_TRUE(contains(err("dataset = shakespeare_char\n"), "strings need quotes")) << err("dataset = shakespeare_char\n");
  EXPECT_TRUE(contains(err("bias = true\n"), "write True"));
  EXPECT_TRUE(contains(err("init_from = None\n"), "None"));
  EXPECT_TRUE(contains(err("out_dir = 'out\n"), "no closing"));
  EXPECT_TRUE(contains(err("x = 'a' + 'b'\n"), "unexpected '+ 'b''"));
  EXPECT_TRUE(contains(err("x = f'a'\n"), "prefixes"));
  EXPECT_TRUE(contains(err("x == 1\n"), "not a `key = value` line"));
  EXPECT_TRUE(contains(err("x =\n"), "no value"));
  EXPECT_TRUE(contains(err("x = 1.2.3\n"), "not a number"));
  EXPECT_TRUE(contains(err("x = 007\n"), "leading zeros"));
  EXPECT_TRUE(contains(err("x = 1__0\n"), "misplaced '_'"));
  EXPECT_TRUE(contains(err("x = 'a' * 2\n"), "only numbers can be multiplied"));
  EXPECT_TRUE(contains(err("x = 99999999999999999999\n"), "too large"));
  EXPECT_TRUE(contains(err("x = 1e999\n"), "out of range"));
  EXPECT_TRUE(contains(err("x: int = 1\n"), "not a `key = value` line"));
}

TEST(ConfigFile, RefusesFilesThatAreNotConfigFiles) {
  EXPECT_TRUE(contains(error_of([] { zs::read_config_file("/nonexistent/x.py"); }), "does not exist"));
  EXPECT_TRUE(contains(error_of([] { zs::read_config_file("/tmp"); }), "is a directory"));
  const std::string binary = write_file("binary.py", std::string("a = 1\n\0\x01", 8));
  EXPECT_TRUE(contains(error_of([&] { zs::read_config_file(binary); }), "not a text file"));
  const std::string json = write_file("ds.json", "{}");
  EXPECT_TRUE(contains(error_of([&] { zs::read_config_file(json); }), "--deepspeed_config"));
}

TEST(FlagSet, NanoGptDefaults) {
  Parsed p({});
  EXPECT_FALSE(p.code);
  EXPECT_EQ(p.f.out_dir, "");
  EXPECT_EQ(p.f.eval_interval, 2000);
  EXPECT_EQ(p.f.batch_size, 12);
  EXPECT_DOUBLE_EQ(p.f.learning_rate, 6e-4);
  EXPECT_TRUE(p.f.always_save_checkpoint);
  EXPECT_EQ(p.f.init_from, "scratch");
  EXPECT_FALSE(p.flags.given("batch_size"));
  EXPECT_EQ(p.flags.origin("batch_size"), "");
}

TEST(FlagSet, KeyValueFormsAndTheLastOneWins) {
  Parsed p({"--batch_size=4", "--n_layer", "3", "--learning_rate=1e-3", "--batch_size", "8", "--dataset=shakespeare_char",
            "--dropout=0", "--max_iters=-1"});
  EXPECT_EQ(p.f.batch_size, 8);
  EXPECT_EQ(p.n_layer, 3);
  EXPECT_DOUBLE_EQ(p.f.learning_rate, 1e-3);
  EXPECT_EQ(p.f.dataset, "shakespeare_char");
  EXPECT_DOUBLE_EQ(p.dropout, 0.0);  // an int where a float is expected is fine
  EXPECT_EQ(p.f.max_iters, -1);      // parsed; check_train_flags refuses it
  EXPECT_EQ(p.flags.origin("batch_size"), "--batch_size");
  EXPECT_EQ(Parsed({"--out_dir="}).f.out_dir, "");   // what the shell leaves of --out_dir=''
}

// DeepSpeed's and argparse's spelling: dashes inside a name read as underscores.
TEST(FlagSet, DashedNamesAreTheUnderscoredOnes) {
  Parsed p({"--batch-size=6", "--learning-rate", "0.01", "--eval-only", "--out-dir=my-run"});
  EXPECT_EQ(p.f.batch_size, 6);
  EXPECT_DOUBLE_EQ(p.f.learning_rate, 0.01);
  EXPECT_TRUE(p.f.eval_only);
  EXPECT_EQ(p.f.out_dir, "my-run");   // values keep their dashes
}

TEST(FlagSet, BooleansAsNanoGptWritesThem) {
  EXPECT_FALSE(Parsed({"--decay_lr=False"}).f.decay_lr);
  EXPECT_TRUE(Parsed({"--eval_only=True"}).f.eval_only);
  EXPECT_TRUE(Parsed({"--eval_only"}).f.eval_only);
  EXPECT_FALSE(Parsed({"--decay_lr", "False"}).f.decay_lr);
  EXPECT_FALSE(Parsed({"--decay_lr=false"}).f.decay_lr);
  EXPECT_FALSE(Parsed({"--decay_lr=0"}).f.decay_lr);
  EXPECT_TRUE(Parsed({"--eval_only=True", "--eval_only=False", "--eval_only"}).f.eval_only);
  EXPECT_TRUE(contains(parse_error({"--decay_lr=maybe"}), "expected True or False"));
  // A bare flag before a config file leaves the file a file.
  const std::string cfg = write_file("bare.py", "batch_size = 3\n");
  Parsed p({"--eval_only", cfg});
  EXPECT_TRUE(p.f.eval_only);
  EXPECT_EQ(p.f.batch_size, 3);
}

TEST(FlagSet, ConfigFilesThenFlagsWhereverTheyStand) {
  const std::string a = write_file("a.py", "batch_size = 64\nn_layer = 6\nout_dir = 'out-a'\nalways_save_checkpoint = False\n");
  const std::string b = write_file("b.py", "n_layer = 4\n");
  Parsed p({"--batch_size=2", a, b});
  EXPECT_EQ(p.f.batch_size, 2);   // the flag beats the file, even written before it
  EXPECT_EQ(p.n_layer, 4);        // the later file beats the earlier one
  EXPECT_EQ(p.f.out_dir, "out-a");
  EXPECT_FALSE(p.f.always_save_checkpoint);
  EXPECT_EQ(p.flags.origin("n_layer"), "n_layer (" + b + ":1)");
  EXPECT_EQ(p.flags.config_files(), (std::vector<std::string>{a, b}));
}

TEST(FlagSet, ShakespeareCharConfigReadsAsIs) {
  Parsed p({std::string(ZS_SOURCE_DIR) + "/configs/train_shakespeare_char.py"});
  EXPECT_EQ(p.f.dataset, "shakespeare_char");
  EXPECT_EQ(p.f.batch_size, 64);
  EXPECT_EQ(p.n_layer, 6);
  EXPECT_DOUBLE_EQ(p.dropout, 0.2);
  EXPECT_DOUBLE_EQ(p.f.beta2, 0.99);
  EXPECT_FALSE(p.f.always_save_checkpoint);
  zs::check_train_flags(p.flags, p.f);
}

TEST(FlagSet, UnknownNamesGetASuggestion) {
  EXPECT_TRUE(contains(parse_error({"--n_layers=3"}), "unknown flag --n_layers=3 (did you mean --n_layer?)"))
      << parse_error({"--n_layers=3"});
  EXPECT_TRUE(contains(parse_error({"--lr=0.1"}), "unknown flag --lr=0.1"));
  EXPECT_TRUE(contains(parse_error({"-batch_size=3"}), "did you mean --batch_size?"));
  const std::string cfg = write_file("typo.py", "batch_size = 3\nlearning_rat = 1e-3\n");
  const std::string e = parse_error({cfg});
  EXPECT_TRUE(contains(e, cfg + ":2: unknown key 'learning_rat' (did you mean learning_rate?)")) << e;
  EXPECT_TRUE(contains(parse_error({"batch_size=3"}), "as a flag it is written --batch_size=3"));
  EXPECT_TRUE(contains(parse_error({"missing.py"}), "config file 'missing.py' does not exist"));
}

TEST(FlagSet, ValuesAreTypeChecked) {
  EXPECT_TRUE(contains(parse_error({"--batch_size=4.5"}), "--batch_size=4.5: expected an int")) << parse_error({"--batch_size=4.5"});
  EXPECT_TRUE(contains(parse_error({"--batch_size=abc"}), "'abc' is not an int"));
  EXPECT_TRUE(contains(parse_error({"--learning_rate=fast"}), "'fast' is not a number"));
  EXPECT_TRUE(contains(parse_error({"--batch_size="}), "the value is missing"));
  EXPECT_TRUE(contains(parse_error({"--batch_size"}), "--batch_size"));
  EXPECT_TRUE(contains(parse_error({"--dtype=bf"}), "'bf' is not one of")) << parse_error({"--dtype=bf"});
  const std::string cfg = write_file("types.py", "batch_size = 12\neval_only = 'True'\n");
  EXPECT_TRUE(contains(parse_error({cfg}), cfg + ":2: eval_only = 'True': expected True or False, got a string 'True'"))
      << parse_error({cfg});
  const std::string cfg2 = write_file("types2.py", "batch_size = 1e3\n");
  EXPECT_TRUE(contains(parse_error({cfg2}), "expected an int")) << parse_error({cfg2});
  // Numbers past what their type holds say so, on the command line as in config files.
  EXPECT_TRUE(contains(parse_error({"--learning_rate=1e400"}), "the number 1e400 is out of range"))
      << parse_error({"--learning_rate=1e400"});
  EXPECT_TRUE(contains(parse_error({"--max_iters=99999999999999999999"}), "the number 99999999999999999999 is too large"))
      << parse_error({"--max_iters=99999999999999999999"});
  const std::string cfg3 = write_file("types3.py", "max_iters = 1e3083\nbatch_size = 99999999999 * 99999999999\n");
  EXPECT_TRUE(contains(parse_error({cfg3}), cfg3 + ":1: max_iters: the number 1e3083 is out of range")) << parse_error({cfg3});
  EXPECT_TRUE(contains(parse_error({write_file("types4.py", "learning_rate = 1e308 * 10\n")}), "learning_rate: the product is out of range"))
      << parse_error({write_file("types4.py", "learning_rate = 1e308 * 10\n")});
}

TEST(FlagSet, HelpStopsTheProgram) {
  testing::internal::CaptureStdout();
  Parsed p({"--help"});
  const std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(p.code);
  EXPECT_EQ(*p.code, 0);
  EXPECT_TRUE(contains(out, "--batch_size")) << out;
  EXPECT_TRUE(contains(out, "config")) << out;
}

TEST(TrainFlags, NonsenseValuesAreRefused) {
  auto check = [](std::vector<std::string> args) {
    return error_of([&] {
      Parsed p(std::move(args));
      zs::check_train_flags(p.flags, p.f);
    });
  };
  EXPECT_TRUE(contains(check({"--max_iters=-1"}), "--max_iters=-1: must be 0 or more")) << check({"--max_iters=-1"});
  EXPECT_TRUE(contains(check({"--max_iters=0"}), "--eval_only"));
  EXPECT_TRUE(contains(check({"--batch_size=-2"}), "--batch_size=-2: must be at least 1"));
  EXPECT_TRUE(contains(check({"--eval_iters=0"}), "eval_iters"));
  EXPECT_EQ(check({"--eval_iters=0", "--eval_interval=0"}), "");
  EXPECT_TRUE(contains(check({"--log_interval=0"}), "log_interval"));
  EXPECT_TRUE(contains(check({"--min_lr=1", "--learning_rate=0.1"}), "--min_lr=1: must be between 0 and --learning_rate"));
  EXPECT_TRUE(contains(check({"--min_lr=-1"}), "min_lr"));
  // Above --learning_rate's default: a DeepSpeed config's lr may be the peak; the trainer checks it.
  EXPECT_EQ(check({"--min_lr=1"}), "");
  EXPECT_TRUE(contains(check({"--beta2=1.5"}), "beta2"));
  EXPECT_TRUE(contains(check({"--warmup_iters=500", "--lr_decay_iters=100"}), "lr_decay_iters"));
  EXPECT_TRUE(contains(check({"--zero_stage=4"}), "zero_stage"));
  EXPECT_TRUE(contains(check({"--compile=True"}), "no torch.compile")) << check({"--compile=True"});
  EXPECT_EQ(check({"--compile=False"}), "");
  EXPECT_TRUE(contains(check({"--wandb_log=True"}), "Weights & Biases"));
  EXPECT_TRUE(contains(check({"--device=cuda:1"}), "CUDA_VISIBLE_DEVICES"));
  EXPECT_TRUE(contains(check({"--device=mps"}), "CUDA GPUs or CPUs"));
  EXPECT_TRUE(contains(check({"--backend=gloo"}), "no gloo"));
  EXPECT_TRUE(contains(check({"--dataset=x", "--data=y.txt"}), "not both"));
  EXPECT_TRUE(contains(check({"--dataset=data/x"}), "--data=data/x"));
  EXPECT_TRUE(contains(check({"--resume", "--init_from=scratch"}), "contradicts --resume"));
}

TEST(TrainFlags, AliasesFold) {
  Parsed p({"--resume_tag=global_step4", "--dtype=bf16"});
  zs::check_train_flags(p.flags, p.f);
  EXPECT_EQ(p.f.init_from, "resume");
  EXPECT_EQ(p.f.dtype, "bfloat16");
  Parsed q({"--resume"});
  zs::check_train_flags(q.flags, q.f);
  EXPECT_EQ(q.f.init_from, "resume");
}

TEST(TrainFlags, AccumulationIsTheTotalOverRanksAsInNanoGpt) {
  Parsed p({"--gradient_accumulation_steps=8"});
  zs::resolve_accumulation(p.flags, p.f, 2);
  EXPECT_EQ(p.f.accumulation_per_rank, 4);
  Parsed q({});
  zs::resolve_accumulation(q.flags, q.f, 3);
  EXPECT_EQ(q.f.accumulation_per_rank, 1);
  Parsed r({"--gradient_accumulation_steps=3"});
  const std::string e = error_of([&] { zs::resolve_accumulation(r.flags, r.f, 2); });
  EXPECT_TRUE(contains(e, "multiple of the world size")) << e;
  // train_cnn counts it per rank, as DeepSpeed's gradient_accumulation_steps.
  Parsed d({"--gradient_accumulation_steps=3"});
  d.f.accumulation_over_ranks = false;
  zs::resolve_accumulation(d.flags, d.f, 2);
  EXPECT_EQ(d.f.accumulation_per_rank, 3);
}

TEST(TrainFlags, NanoGptLearningRateSchedule) {
  zs::TrainFlags f;
  f.learning_rate = 1e-3, f.min_lr = 1e-4, f.warmup_iters = 10, f.lr_decay_iters = 110;
  EXPECT_NEAR(zs::nanogpt_lr(f, 0), 1e-3 * 1 / 11, 1e-12);
  EXPECT_NEAR(zs::nanogpt_lr(f, 10), 1e-3, 1e-12);
  EXPECT_NEAR(zs::nanogpt_lr(f, 60), 1e-4 + 0.5 * (1e-3 - 1e-4), 1e-12);
  EXPECT_NEAR(zs::nanogpt_lr(f, 110), 1e-4, 1e-12);
  EXPECT_NEAR(zs::nanogpt_lr(f, 500), 1e-4, 1e-12);
  f.decay_lr = false;
  EXPECT_EQ(zs::nanogpt_lr(f, 500), 1e-3);
}

TEST(TrainConfig, LogIntervalAndStepsPerPrint) {
  zs::World world;  // one CPU rank: the config needs only the size and the device
  std::vector<std::string> notes;
  {
    Parsed p({"--log_interval=5"});
    const zs::Config c = zs::make_train_config(p.flags, p.f, world, {}, notes);
    EXPECT_EQ(c.steps_per_print, 5);
    EXPECT_EQ(c.train_micro_batch_size_per_gpu, 12);
  }
  const std::string ds = write_file("ds.json.txt", R"({"train_micro_batch_size_per_gpu": "auto", "steps_per_print": 10})");
  {
    notes.clear();
    Parsed p({"--deepspeed_config=" + ds, "--log_interval=5"});
    EXPECT_EQ(zs::make_train_config(p.flags, p.f, world, {}, notes).steps_per_print, 5);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_TRUE(contains(notes[0], "--log_interval replaces steps_per_print 10")) << notes[0];
  }
  {
    notes.clear();
    Parsed p({"--deepspeed_config=" + ds});
    EXPECT_EQ(zs::make_train_config(p.flags, p.f, world, {}, notes).steps_per_print, 10);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_TRUE(contains(notes[0], "--log_interval sets it")) << notes[0];
  }
}

TEST(TrainConfig, ConfigFileValuesCountAsGiven) {
  // A DeepSpeed value contradicting a config file's value is an error naming the file's line.
  zs::World world;
  std::vector<std::string> notes;
  const std::string cfg = write_file("bs.py", "batch_size = 64\n");
  const std::string ds = write_file("ds2.json.txt", R"({"train_micro_batch_size_per_gpu": 4})");
  Parsed p({cfg, "--deepspeed_config=" + ds});
  const std::string e = error_of([&] { zs::make_train_config(p.flags, p.f, world, {}, notes); });
  EXPECT_TRUE(contains(e, "batch_size (" + cfg + ":1)")) << e;
}

}  // namespace test_trainer_flags
