#include "zs/monitor/jsonl_sink.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace zs {
namespace {

// JSON has no NaN or infinity: a diverged loss is written as null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

JsonLinesSink::JsonLinesSink(const std::string& path) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code error;
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) throw std::runtime_error("JSON-lines log: cannot create " + parent.string() + ": " + error.message());
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw std::runtime_error("JSON-lines log: cannot open " + path + ": " + std::strerror(errno));
}

JsonLinesSink::~JsonLinesSink() {
  if (file_) std::fclose(file_);
}

std::string JsonLinesSink::line(const StepStats& s) {
  nlohmann::ordered_json j;
  j["step"] = s.step;
  j["samples"] = s.global_samples;
  j["loss"] = number(s.loss);
  j["lr"] = number(s.lr);
  j["loss_scale"] = number(s.loss_scale);
  if (s.grad_norm >= 0) j["grad_norm"] = number(s.grad_norm);
  j["skipped"] = s.skipped;
  j["seconds"] = number(s.seconds);
  j["tokens"] = s.tokens;
  for (const auto& [name, value] : s.extras) j[name] = number(value);
  return j.dump();
}

void JsonLinesSink::write(const StepStats& stats) {
  const std::string text = line(stats) + "\n";
  if (std::fputs(text.c_str(), file_) < 0 || std::fflush(file_) != 0)
    throw std::runtime_error("JSON-lines log: cannot write to " + path_ + ": " + std::strerror(errno));
}

}  // namespace zs
