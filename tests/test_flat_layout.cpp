// The flat layout: offsets, alignment, bucket boundaries, padding and rank chunks.
#include <gtest/gtest.h>

#include "zs/zero/flat_layout.hpp"
#include "zs/zero/stage_policy.hpp"

namespace test_flat_layout {

namespace {

TEST(FlatLayout, PacksParametersIntoAlignedPaddedBuckets) {
  // Five parameters, one group, buckets of at most 100 elements, 3 ranks, 4-element alignment.
  const zs::FlatLayout l = zs::make_flat_layout({10, 30, 50, 7, 200}, {0, 0, 0, 0, 0}, 3, 100, 4);
  ASSERT_EQ(l.buckets.size(), 3u);
  // Bucket 0: 10 + (pad to 12) 30 + (pad to 44) 50 = 94 elements; 7 would pass 100, so it starts bucket 1.
  EXPECT_EQ(l.entries[0].offset, 0);
  EXPECT_EQ(l.entries[1].offset, 12);
  EXPECT_EQ(l.entries[2].offset, 44);
  EXPECT_EQ(l.buckets[0].first_entry, 0);
  EXPECT_EQ(l.buckets[0].end_entry, 3);
  EXPECT_EQ(l.buckets[0].numel % 12, 0);  // divisible by partitions * align
  EXPECT_GE(l.buckets[0].numel, 94);
  // Bucket 1 holds the 7-element parameter; the 200-element one is larger than a bucket: its own.
  EXPECT_EQ(l.buckets[1].end_entry - l.buckets[1].first_entry, 1);
  EXPECT_EQ(l.buckets[2].first_entry, 4);
  EXPECT_EQ(l.entries[4].bucket, 2);
  EXPECT_EQ(l.buckets[2].numel, 204);
  for (size_t b = 0; b < l.buckets.size(); ++b) {
    EXPECT_EQ(l.buckets[b].chunk * 3, l.buckets[b].numel);
    if (b > 0) EXPECT_EQ(l.buckets[b].offset, l.buckets[b - 1].offset + l.buckets[b - 1].numel);
  }
  // A rank's shard is its chunks, concatenated.
  EXPECT_EQ(l.buckets[1].shard_offset, l.buckets[0].chunk);
  EXPECT_EQ(l.shard_numel, l.buckets[0].chunk + l.buckets[1].chunk + l.buckets[2].chunk);
  EXPECT_EQ(l.total_numel, l.buckets[2].offset + l.buckets[2].numel);
  EXPECT_EQ(l.chunk_offset(2, 1), l.buckets[2].offset + l.buckets[2].chunk);
}

TEST(FlatLayout, GroupsNeverShareABucket) {
  const zs::FlatLayout l = zs::make_flat_layout({8, 8, 8, 8}, {0, 0, 1, 1}, 2, 1000, 8);
  ASSERT_EQ(l.buckets.size(), 2u);
  EXPECT_EQ(l.buckets[0].group, 0);
  EXPECT_EQ(l.buckets[1].group, 1);
  EXPECT_EQ(l.entries[2].bucket, 1);
}

TEST(FlatLayout, WorldSizeThatDoesNotDivideIsPadded) {
  const zs::FlatLayout l = zs::make_flat_layout({1001}, {0}, 3, 1 << 20, 16);
  EXPECT_EQ(l.buckets[0].numel % 48, 0);
  EXPECT_GE(l.buckets[0].numel, 1001);
  EXPECT_EQ(l.shard_numel * 3, l.total_numel);
}

TEST(FlatLayout, BucketSizeZeroGivesEachParameterItsOwnBucket) {
  // DeepSpeed's reduce_bucket_size 0 reduces every gradient on its own.
  const zs::FlatLayout l = zs::make_flat_layout({10, 30, 5}, {0, 0, 0}, 2, 0, 4);
  ASSERT_EQ(l.buckets.size(), 3u);
  for (int b = 0; b < 3; ++b) EXPECT_EQ(l.buckets[b].end_entry - l.buckets[b].first_entry, 1);
  EXPECT_THROW(zs::make_flat_layout({10}, {0}, 1, -1), std::invalid_argument);
}

TEST(FlatLayout, RejectsBadInput) {
  EXPECT_THROW(zs::make_flat_layout({1, 2}, {0}, 1, 10), std::invalid_argument);
  EXPECT_THROW(zs::make_flat_layout({1, 2}, {1, 0}, 1, 10), std::invalid_argument);
  EXPECT_THROW(zs::make_flat_layout({1}, {0}, 0, 10), std::invalid_argument);
}

TEST(StagePolicy, FollowsTheStageTable) {
  const auto s0 = zs::StagePolicy::for_stage(0), s1 = zs::StagePolicy::for_stage(1), s2 = zs::StagePolicy::for_stage(2);
  EXPECT_FALSE(s0.shard_optimizer);
  EXPECT_EQ(s0.partitions(4), 1);
  EXPECT_TRUE(s1.shard_optimizer && s1.gather_after_step && !s1.shard_gradients && !s1.reduce_every_micro_step);
  EXPECT_TRUE(s2.shard_optimizer && s2.gather_after_step && s2.shard_gradients && s2.reduce_every_micro_step);
  EXPECT_EQ(s2.partitions(4), 4);
  EXPECT_TRUE(zs::StagePolicy::for_stage(3).partition_parameters);
  EXPECT_THROW(zs::StagePolicy::for_stage(4), std::invalid_argument);
}

}  // namespace

}  // namespace test_flat_layout
