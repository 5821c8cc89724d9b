#include "zs/monitor/tensorboard_event_protobuf.hpp"

#include <stdexcept>

#include "tensorboard_event.pb.h"

namespace zs {
namespace {

std::string serialize(const tensorboard::Event& event) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) throw std::runtime_error("a TensorBoard event could not be encoded");
  return bytes;
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_file_version("brain.Event:2");
  return serialize(event);
}

std::string encode_scalars_event(double wall_time, int64_t step, const std::vector<MetricEvent>& metrics) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const MetricEvent& m : metrics) {
    tensorboard::Summary::Value* value = summary->add_value();
    value->set_tag(m.tag);
    value->set_simple_value(static_cast<float>(m.value));
  }
  return serialize(event);
}

}  // namespace zs
