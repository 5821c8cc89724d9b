#include "zs/zero/unit_codec.hpp"

#include "zs/comm_codec/quantized_collectives.hpp"
#include "zs/dist/world.hpp"

namespace zs {

UnitCodec::UnitCodec(const World& world, const UnitCodecOptions& options) : options_(options) {
  if (options_.quantize_weights) weights_.emplace(8, options_.block_size);
  // Node groups: hpZ's groups of g ranks, else the machines (LOCAL_WORLD_SIZE). Made (a collective)
  // only when something talks within them.
  const int group_size = options_.hpz_partition_size > 1 ? options_.hpz_partition_size : 0;
  const NodeLayout layout = node_layout(world.info, group_size);
  hierarchical_ = options_.quantize_gradients && layout.group_size > 1 && layout.num_groups > 1;
  emulated_nodes_ = group_size > 0 && group_size != world.info.local_world_size;
  if (options_.hpz_partition_size > 1 || hierarchical_) {
    groups_ = make_node_groups(world, group_size);
  } else {
    groups_.layout = layout;
  }
  if (options_.quantize_gradients) {
    // DeepSpeed's qgZ: int4 within the node and int8 for the partial sums that cross nodes; a
    // single hop (one node, or one rank per node) goes in int8.
    gradients_.emplace(hierarchical_ ? 4 : 8, options_.block_size);
    if (hierarchical_) gradients_cross_.emplace(8, options_.block_size);
  }
}

WorkHandle UnitCodec::all_gather(Communicator& comm, const at::Tensor& output, const at::Tensor& input) const {
  if (weights_) return start_quantized_all_gather(comm, *weights_, output, input);
  return comm.all_gather(output, input);
}

WorkHandle UnitCodec::reduce_scatter(Communicator& comm, const at::Tensor& output, const at::Tensor& input,
                                     ReduceOp op) const {
  if (!gradients_) return comm.reduce_scatter(output, input, op);
  if (hierarchical_)
    return start_hierarchical_quantized_reduce_scatter(groups_, *gradients_, *gradients_cross_, output, input, op);
  return start_quantized_reduce_scatter(comm, *gradients_, output, input, op);
}

void UnitCodec::set_observer(const std::shared_ptr<CollectiveObserver>& observer) {
  if (groups_.node) groups_.node->set_observer(observer);
  if (groups_.cross) groups_.cross->set_observer(observer);
}

std::string UnitCodec::describe() const {
  const std::string block = std::to_string(options_.block_size);
  std::string s = "ZeRO++:";
  if (weights_) s += " qwZ (unit gathers in int8, blocks of " + block + " with float32 scales);";
  if (gradients_) {
    s += hierarchical_ ? " qgZ (gradients int4 within " + std::to_string(groups_.layout.group_size) +
                             "-rank nodes, then int8 across " + std::to_string(groups_.layout.num_groups) + " nodes);"
                       : " qgZ (gradients int8 in one all-to-all hop);";
  }
  if (options_.hpz_partition_size > 1)
    s += " hpZ (secondary 16-bit partition over groups of " + std::to_string(options_.hpz_partition_size) +
         " ranks" + (emulated_nodes_ ? ", emulating nodes of that size" : "") + ");";
  s.pop_back();
  return s;
}

}  // namespace zs
