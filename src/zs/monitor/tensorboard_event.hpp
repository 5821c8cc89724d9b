#pragma once
// TensorBoard Event messages as bytes: the part of TensorBoard's event-file schema that scalar
// summaries use (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto), in
// protobuf's wire format, with the same field numbers and types, so TensorBoard reads what we write:
//   Event   { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5; } }
//   Summary { repeated Value value = 1; }    Value { string tag = 1; oneof { float simple_value = 2; } }
// Encoded here rather than by the protobuf library: Debian's libsentencepiece carries its own
// protobuf runtime (3.14) and exports its symbols, so a program that also loaded libprotobuf-lite
// (3.21) had sentencepiece's calls bound to the other runtime, which refused them ("compiled against
// version 3.14.0 ... not compatible with the installed version"): train_llama could not read a
// tokenizer.model.
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
