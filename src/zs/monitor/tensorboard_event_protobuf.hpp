#pragma once
// TensorBoard Event messages as bytes, encoded by protobuf from tensorboard_event.proto. This pair
// compiles apart from LibTorch (whose include folder carries an older protobuf's headers): it
// includes no LibTorch header and builds as its own object library (src/zs/CMakeLists.txt).
#include <cstdint>
#include <string>
#include <vector>

#include "zs/monitor/metric_sink.hpp"

namespace zs {

// The first record of every event file: Event{wall_time, file_version "brain.Event:2"}.
std::string encode_file_version_event(double wall_time);
// One Event at `step` whose Summary holds a simple_value per metric (their own steps are ignored).
std::string encode_scalars_event(double wall_time, int64_t step, const std::vector<MetricEvent>& metrics);

}  // namespace zs
