#include "zs/zero/flat_layout.hpp"

#include <stdexcept>
#include <string>

namespace zs {

namespace {
int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
}  // namespace

FlatLayout make_flat_layout(const std::vector<int64_t>& numels, const std::vector<int>& groups,
                            int partitions, int64_t bucket_elements, int64_t align) {
  if (numels.size() != groups.size()) throw std::invalid_argument("make_flat_layout: numels/groups differ in size");
  if (partitions < 1) throw std::invalid_argument("make_flat_layout: partitions must be >= 1");
  // 0 gives every parameter a bucket of its own (DeepSpeed's reduce_bucket_size 0 reduces each
  // gradient on its own).
  if (bucket_elements < 0) throw std::invalid_argument("make_flat_layout: bucket size must be >= 0");
  FlatLayout layout;
  layout.partitions = partitions;
  layout.entries.resize(numels.size());

  // Close the open bucket: pad it to a multiple of (partitions * align) so every chunk is aligned.
  int64_t cursor = 0;
  FlatBucket open;
  bool has_open = false;
  auto close_bucket = [&]() {
    if (!has_open) return;
    open.numel = round_up(cursor - open.offset, int64_t(partitions) * align);
    open.chunk = open.numel / partitions;
    open.shard_offset = layout.shard_numel;
    layout.shard_numel += open.chunk;
    cursor = open.offset + open.numel;
    layout.buckets.push_back(open);
    has_open = false;
  };

  for (size_t i = 0; i < numels.size(); ++i) {
    if (numels[i] < 0) throw std::invalid_argument("make_flat_layout: negative numel");
    if (i > 0 && groups[i] < groups[i - 1])
      throw std::invalid_argument("make_flat_layout: groups must come in non-decreasing runs");
    // A bucket closes before a parameter that would take it past the bucket size (a parameter
    // larger than that gets a bucket of its own).
    if (has_open && (groups[i] != open.group || cursor - open.offset + numels[i] > bucket_elements)) close_bucket();
    if (!has_open) {
      open = FlatBucket{};
      open.group = groups[i];
      open.offset = cursor;
      open.first_entry = int(i);
      has_open = true;
    }
    FlatEntry& e = layout.entries[i];
    e.numel = numels[i];
    e.group = groups[i];
    e.offset = round_up(cursor, align);
    e.bucket = int(layout.buckets.size());
    cursor = e.offset + e.numel;
    open.end_entry = int(i) + 1;
  }
  close_bucket();
  layout.total_numel = cursor;
  return layout;
}

}  // namespace zs
