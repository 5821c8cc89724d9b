#include "zs/models/param_init.hpp"

#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include "zs/base/mix64.hpp"

namespace zs {

uint64_t draw_init_seed() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get<at::CPUGeneratorImpl>()->random64();
}

uint64_t parameter_seed(uint64_t model_seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return mix64(model_seed ^ mix64(h));
}

at::Generator seeded_generator(c10::Device device, uint64_t seed) {
  if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Generator default_gen = at::globalContext().defaultGenerator(device);
  at::Generator gen;
  {
    std::lock_guard<std::mutex> lock(default_gen.mutex());
    gen = default_gen.clone();
  }
  gen.set_current_seed(seed);
  return gen;
}

}  // namespace zs
