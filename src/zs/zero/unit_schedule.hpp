// The ZeRO-3 units of a model, and when to gather them ahead of time.
//
// The first step records the order in which units run their forward. From then on, a unit that
// starts its forward also starts gathering the units that follow it, and a unit that starts its
// backward gathers the ones before it, while the elements being prefetched stay below
// stage3_prefetch_bucket_size (the unit that crosses it still goes; 0: no prefetch) and within
// stage3_max_live_parameters (elements gathered at once). A unit whose next
// use comes within fewer than stage3_max_reuse_distance elements of other units' gathering (the last units of
// the forward, whose backward follows at once) stays gathered after its forward instead of being
// released and gathered again, while the live elements stay within stage3_max_live_parameters.
// A step that runs units in another order stays correct: a unit that was not prefetched is
// gathered when it runs, and one prefetched or kept for nothing is released at the end of the
// backward.
#pragma once

#include <cstdint>
#include <vector>

namespace zs {

class ParamGroup;

class UnitSchedule {
 public:
  UnitSchedule(int64_t prefetch_elements, int64_t max_live_elements, int64_t max_reuse_distance)
      : prefetch_elements_(prefetch_elements),
        max_live_elements_(max_live_elements),
        max_reuse_distance_(max_reuse_distance) {}

  // The units (partitioned groups; owned by the engine).
  void add(ParamGroup* unit) { units_.push_back(unit); }
  const std::vector<ParamGroup*>& units() const { return units_; }

  // Called by a unit's runner as its forward / backward starts.
  void on_forward(ParamGroup* unit);
  void on_backward(ParamGroup* unit);
  // After a unit's forward (with a backward to come): whether it stays gathered for its reuse.
  bool keep_after_forward(ParamGroup* unit) const;

  // After every backward (the units have released themselves): the first one ends the recording.
  void end_backward();
  // Keeps every unit gathered (or lets them go again). Collective.
  void set_pinned(bool pinned);

 private:
  void prefetch_from(int position, int direction);
  int64_t live_elements() const;

  std::vector<ParamGroup*> units_;
  std::vector<ParamGroup*> order_;   // forward order of the first step
  // Per position of order_: elements of the other units gathered before that unit's next use.
  std::vector<int64_t> reuse_distance_;
  int position_ = -1;                // position of the unit whose forward runs now
  bool recording_ = true;
  int64_t prefetch_elements_, max_live_elements_, max_reuse_distance_;
};

}  // namespace zs
