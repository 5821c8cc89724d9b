#pragma once
// Initial values that do not depend on the order in which parameters are made: each parameter
// draws from a generator of its own, seeded from the model's seed and the parameter's name. A
// model built on the meta device can then be materialised one unit at a time (by an engine, on
// each rank's device) and get the values it would get initialised whole on that kind of device.
#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace zs {

// A model's seed: 64 bits from the default CPU generator, so torch::manual_seed before building
// the model makes its initial values reproducible.
uint64_t draw_init_seed();

// A parameter's seed from the model's seed and the parameter's name.
uint64_t parameter_seed(uint64_t model_seed, const std::string& name);

// A fresh generator of `device`'s kind with `seed` (the default generators stay untouched).
at::Generator seeded_generator(c10::Device device, uint64_t seed);

}  // namespace zs
