// The thread an offloaded optimizer step runs on beside the device (zero/state/background_update.hpp):
// batches taken lowest priority first, waits per slot, failures back to the caller.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "zs/zero/state/background_update.hpp"

namespace test_background_update {

namespace {

using zs::BackgroundUpdate;

BackgroundUpdate::Batch batch(std::vector<int> order, int priority) { return {std::move(order), {}, priority}; }

// A first batch holds the thread until released, so that the next ones queue up behind it.
TEST(BackgroundUpdate, TakesQueuedBatchesLowestPriorityFirst) {
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false, released = false;
  std::vector<int> done;
  BackgroundUpdate thread;
  thread.start(4, [&](const BackgroundUpdate::Batch& b, const std::function<void(int)>& slot_done) {
    if (b.order.front() == 0) {
      std::unique_lock<std::mutex> lock(mutex);
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return released; });
    }
    for (int s : b.order) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        done.push_back(s);
      }
      slot_done(s);
    }
  });
  thread.submit(batch({0}, 5));
  {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return entered; });
  }
  thread.submit(batch({1}, 3));
  thread.submit(batch({2, 3}, 1));
  {
    std::lock_guard<std::mutex> lock(mutex);
    released = true;
  }
  cv.notify_all();
  thread.wait(1);  // the last one taken: every slot is done once it returns
  {
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(done, (std::vector<int>{0, 2, 3, 1}));
  }
  thread.finish();
  EXPECT_FALSE(thread.running());
}

TEST(BackgroundUpdate, WaitingForASlotNobodyHandedOverFails) {
  BackgroundUpdate thread;
  thread.start(3, [](const BackgroundUpdate::Batch& b, const std::function<void(int)>& slot_done) {
    for (int s : b.order) slot_done(s);
  });
  thread.submit(batch({0, 1}, 0));
  thread.close();
  thread.wait(0);
  try {
    thread.wait(2);
    FAIL() << "waiting for slot 2 returned";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("slot 2 was never handed"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(thread.running());
  thread.finish();  // nothing left to report
}

TEST(BackgroundUpdate, AFailureReachesTheCallerOnceAndTheThreadCanStartAgain) {
  BackgroundUpdate thread;
  thread.start(2, [](const BackgroundUpdate::Batch& b, const std::function<void(int)>& slot_done) {
    if (b.order.front() == 1) throw std::runtime_error("disk full");
    slot_done(b.order.front());
  });
  thread.submit(batch({0}, 0));
  thread.submit(batch({1}, 1));
  // Any wait once the thread failed reports it (slot 0's too, if the failure came first).
  bool thrown = false;
  for (int s : {0, 1}) {
    try {
      thread.wait(s);
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "disk full");
      thrown = true;
      break;
    }
  }
  EXPECT_TRUE(thrown);
  EXPECT_NO_THROW(thread.finish());
  // The next step starts a new thread.
  int updated = -1;
  thread.start(1, [&](const BackgroundUpdate::Batch& b, const std::function<void(int)>& slot_done) {
    updated = b.order.front();
    slot_done(updated);
  });
  thread.submit(batch({0}, 0));
  thread.finish();
  EXPECT_EQ(updated, 0);
}

}  // namespace

}  // namespace test_background_update
