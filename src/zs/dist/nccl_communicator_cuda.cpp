// NcclCommunicator: collectives on CUDA tensors. Each collective runs on the communicator's own
// high-priority stream, after the work already queued on the caller's current stream (event wait),
// and records a done-event the caller's stream waits on in Work::wait(). Tensors stay referenced
// until Work::wait() on the launching stream (from then on everything that stream runs is ordered
// after the collective, so the allocator may hand their memory to that stream's next tensors) or
// until the done-event fires (no record_stream: memory is freed at a deterministic point).
// The CPU usually runs far ahead of the GPU, so waiting for the event alone would keep a whole
// backward's gradient buffers alive.
// A watchdog thread ends the process when a collective outlives the timeout or NCCL reports an
// asynchronous error, aborting the communicator first so peers' kernels are released too.
#include "zs/dist/nccl_communicator.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include "zs/dist/collective_checks.hpp"
#include "zs/dist/collective_progress.hpp"

namespace zs {
namespace {

using Clock = std::chrono::steady_clock;

void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

void check_nccl(ncclResult_t res, const char* what) {
  if (res != ncclSuccess) {
    throw std::runtime_error(std::string(what) + " failed: " + ncclGetErrorString(res));
  }
}

ncclDataType_t nccl_type(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return ncclFloat32;
    case c10::kDouble: return ncclFloat64;
    case c10::kHalf: return ncclFloat16;
    case c10::kBFloat16: return ncclBfloat16;
    case c10::kInt: return ncclInt32;
    case c10::kLong: return ncclInt64;
    case c10::kChar: return ncclInt8;
    case c10::kByte: return ncclUint8;
    case c10::kBool: return ncclUint8;
    default:
      throw std::invalid_argument("NCCL collectives do not support dtype " + dtype_name(t));
  }
}

ncclRedOp_t nccl_op(c10::ScalarType t, ReduceOp op) {
  if (t == c10::kBool) {
    // uint8 0/1: max = any rank true, min = all true; sum would count, so it means "any" too.
    if (op == ReduceOp::avg) throw std::invalid_argument("avg of bool tensors has no meaning");
    return op == ReduceOp::min ? ncclMin : ncclMax;
  }
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::avg: return ncclAvg;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  return ncclSum;
}

// One collective in flight: its done-event and the tensors it reads and writes.
struct PendingCollective {
  cudaEvent_t done = nullptr;
  cudaStream_t launched_from = nullptr;  // the caller's current stream at launch
  std::vector<at::Tensor> tensors;        // cleared by a wait on launched_from
  std::string what;
  Clock::time_point start;
  uint64_t seq = 0;          // in collective_progress(), for the hang watchdog
  // Timed collectives (an observer is set): an event before the NCCL call, and `done` with timing.
  std::shared_ptr<CollectiveObserver> observer;
  cudaEvent_t started = nullptr;
  const char* op = "";
  int64_t bytes = 0;

  ~PendingCollective() {
    if (done) cudaEventDestroy(done);
    if (started) cudaEventDestroy(started);
  }
};

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<PendingCollective> pending, c10::DeviceIndex device)
      : pending_(std::move(pending)), device_(device) {}

  void wait() override {
    c10::cuda::CUDAGuard guard(device_);
    auto current = c10::cuda::getCurrentCUDAStream(device_);
    check_cuda(cudaStreamWaitEvent(current.stream(), pending_->done, 0), "cudaStreamWaitEvent");
    // The tensors were made on (or outlive the collective beyond) the launching stream.
    if (current.stream() == pending_->launched_from) pending_->tensors.clear();
  }

  bool completed() override {
    c10::cuda::CUDAGuard guard(device_);
    cudaError_t err = cudaEventQuery(pending_->done);
    if (err == cudaErrorNotReady) return false;
    check_cuda(err, "cudaEventQuery");
    return true;
  }

 private:
  std::shared_ptr<PendingCollective> pending_;
  c10::DeviceIndex device_;
};

class NcclCommunicator : public Communicator {
 public:
  // Takes over `comm` (from ncclCommInitRank or ncclCommSplit). `job_rank` is the rank messages name;
  // `label` is appended to the names of a group's collectives.
  NcclCommunicator(ncclComm_t comm, int job_rank, c10::Device device, double timeout_s,
                   c10::intrusive_ptr<c10d::Store> store, std::string label = "")
      : job_rank_(job_rank), device_(device), timeout_s_(timeout_s),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device.index())), store_(std::move(store)),
        comm_(comm), label_(std::move(label)) {
    check_nccl(ncclCommUserRank(comm_, &rank_), "ncclCommUserRank");
    check_nccl(ncclCommCount(comm_, &size_), "ncclCommCount");
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    c10::cuda::CUDAGuard guard(device_.index());
    // After a normal run the last collectives finish within moments. Collectives still pending
    // after that mean this rank is going down early (an error) and a peer will never join them:
    // abort instead of waiting forever.
    const auto deadline = Clock::now() + std::chrono::duration<double>(std::min(timeout_s_, 10.0));
    cudaError_t state;
    while ((state = cudaStreamQuery(stream_.stream())) == cudaErrorNotReady && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (state != cudaSuccess) {
      std::fprintf(stderr, "[zeroshard] rank %d: collectives still pending at shutdown; aborting the NCCL communicator\n",
                   job_rank_);
      ncclCommAbort(comm_);  // also ends their kernels
      comm_ = nullptr;
    }
    pending_.clear();
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    check_tensor("all_reduce", tensor, device_);
    auto type = nccl_type(tensor.scalar_type());
    auto rop = nccl_op(tensor.scalar_type(), op);
    return launch(describe_collective("all_reduce", tensor), "all_reduce", int64_t(tensor.nbytes()), {tensor}, [&](cudaStream_t s) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), type, rop, comm_, s);
    });
  }

  WorkHandle reduce_scatter(const at::Tensor& output, const at::Tensor& input, ReduceOp op) override {
    check_reduce_scatter(output, input, size_, device_);
    auto type = nccl_type(output.scalar_type());
    auto rop = nccl_op(output.scalar_type(), op);
    return launch(describe_collective("reduce_scatter", input), "reduce_scatter", int64_t(input.nbytes()), {output, input}, [&](cudaStream_t s) {
      return ncclReduceScatter(input.data_ptr(), output.data_ptr(), output.numel(), type, rop, comm_, s);
    });
  }

  WorkHandle all_gather(const at::Tensor& output, const at::Tensor& input) override {
    check_all_gather(output, input, size_, device_);
    auto type = nccl_type(input.scalar_type());
    return launch(describe_collective("all_gather", output), "all_gather", int64_t(output.nbytes()), {output, input}, [&](cudaStream_t s) {
      return ncclAllGather(input.data_ptr(), output.data_ptr(), input.numel(), type, comm_, s);
    });
  }

  WorkHandle all_to_all(const at::Tensor& output, const at::Tensor& input) override {
    check_all_to_all(output, input, size_, device_);
    auto type = nccl_type(input.scalar_type());
    // The sends and receives run at once: a send must not read what a receive writes.
    at::Tensor send = tensors_overlap(output, input) ? input.clone() : input;
    const int64_t chunk = input.numel() / size_;
    const int64_t chunk_bytes = chunk * int64_t(input.element_size());
    return launch(describe_collective("all_to_all", input), "all_to_all", int64_t(input.nbytes()), {output, input, send}, [&](cudaStream_t s) {
      ncclResult_t res = ncclGroupStart();
      if (res != ncclSuccess) return res;
      for (int q = 0; q < size_ && res == ncclSuccess; ++q) {
        res = ncclSend(static_cast<const char*>(send.data_ptr()) + q * chunk_bytes, chunk, type, q, comm_, s);
        if (res == ncclSuccess)
          res = ncclRecv(static_cast<char*>(output.data_ptr()) + q * chunk_bytes, chunk, type, q, comm_, s);
      }
      ncclResult_t end = ncclGroupEnd();
      return res != ncclSuccess ? res : end;
    });
  }

  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    check_tensor("broadcast", tensor, device_);
    check_root("broadcast", root, size_);
    auto type = nccl_type(tensor.scalar_type());
    return launch(describe_collective("broadcast", tensor), "broadcast", int64_t(tensor.nbytes()), {tensor}, [&](cudaStream_t s) {
      return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(), type, root, comm_, s);
    });
  }

  void barrier() override {
    // A one-element all-reduce, waited for on the host (the watchdog bounds the wait).
    auto token = at::empty({1}, at::TensorOptions().dtype(at::kFloat).device(device_));
    token.zero_();
    auto work = all_reduce(token, ReduceOp::sum);
    while (!work->completed()) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }

  std::shared_ptr<Communicator> split(int color, int key) override {
    // ncclCommSplit blocks with no timeout: meet every rank first in a barrier that has one (this
    // communicator's watchdog ends the job when a rank never comes).
    barrier();
    ncclComm_t group = nullptr;
    {
      c10::cuda::CUDAGuard guard(device_.index());
      std::lock_guard<std::mutex> lock(launch_mutex_);
      check_nccl(ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &group, nullptr), "ncclCommSplit");
    }
    if (!group) return nullptr;
    int count = 0;
    check_nccl(ncclCommCount(group, &count), "ncclCommCount");
    return std::make_shared<NcclCommunicator>(group, job_rank_, device_, timeout_s_, store_,
                                              " in a group of " + std::to_string(count) + " ranks");
  }

  [[noreturn]] void abort(const std::string& why) override {
    std::fprintf(stderr, "[zeroshard] rank %d: aborting: %s\n", job_rank_, why.c_str());
    std::fflush(stderr);
    ncclCommAbort(comm_);
    std::_Exit(1);
  }

 private:
  template <typename Launch>
  WorkHandle launch(std::string what, const char* op, int64_t bytes, std::vector<at::Tensor> tensors, Launch&& nccl_call) {
    c10::cuda::CUDAGuard guard(device_.index());
    auto current = c10::cuda::getCurrentCUDAStream(device_.index());
    auto pending = std::make_shared<PendingCollective>();
    pending->what = std::move(what) + label_;
    pending->tensors = std::move(tensors);
    pending->launched_from = current.stream();

    // The comm stream starts after everything already queued on the caller's stream.
    cudaEvent_t ready = nullptr;
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(ready, current.stream()), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream_.stream(), ready, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(ready);  // released once the recorded work completes; the wait stays queued

    pending->observer = observer();
    pending->op = op;
    pending->bytes = bytes;
    if (pending->observer) {
      check_cuda(cudaEventCreate(&pending->started), "cudaEventCreate");
      check_cuda(cudaEventCreate(&pending->done), "cudaEventCreate");
      check_cuda(cudaEventRecord(pending->started, stream_.stream()), "cudaEventRecord");
    } else {
      check_cuda(cudaEventCreateWithFlags(&pending->done, cudaEventDisableTiming), "cudaEventCreate");
    }
    {
      std::lock_guard<std::mutex> lock(launch_mutex_);  // NCCL calls on one comm must not interleave
      check_nccl(nccl_call(stream_.stream()), pending->what.c_str());
    }
    check_cuda(cudaEventRecord(pending->done, stream_.stream()), "cudaEventRecord");
    pending->start = Clock::now();
    pending->seq = collective_progress().started(pending->what);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Let go of what has finished since the watchdog last looked, so temporaries return to the
      // allocator promptly instead of up to one watchdog period later.
      while (!pending_.empty() && cudaEventQuery(pending_.front()->done) == cudaSuccess) pop_finished();
      pending_.push_back(pending);
    }
    return std::make_shared<NcclWork>(pending, device_.index());
  }

  // Drops finished collectives (releasing their tensors) and ends the process on a timeout or an
  // asynchronous NCCL error.
  void watch() {
    cudaSetDevice(device_.index());
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      while (!pending_.empty()) {
        cudaError_t state = cudaEventQuery(pending_.front()->done);
        if (state == cudaSuccess) {
          pop_finished();  // in launch order, so the front finishes first
          continue;
        }
        double waited = std::chrono::duration<double>(Clock::now() - pending_.front()->start).count();
        if (state != cudaErrorNotReady) {
          fail(pending_.front()->what + " failed on the GPU: " + cudaGetErrorString(state));
        }
        if (waited > timeout_s_) fail_timeout(pending_.front()->what);
        break;
      }
      ncclResult_t async_error = ncclSuccess;
      if (ncclCommGetAsyncError(comm_, &async_error) == ncclSuccess && async_error != ncclSuccess &&
          async_error != ncclInProgress) {
        fail(std::string("NCCL reported an error: ") + ncclGetErrorString(async_error) +
             (pending_.empty() ? "" : " (during " + pending_.front()->what + ")"));
      }
    }
  }

  // Under mutex_: the front collective has finished.
  void pop_finished() {
    collective_progress().finished(pending_.front()->seq);
    const PendingCollective& done = *pending_.front();
    float ms = 0;
    if (done.observer && cudaEventElapsedTime(&ms, done.started, done.done) == cudaSuccess)
      done.observer->finished(done.op, done.bytes, 1e-3 * ms);
    pending_.pop_front();
  }

  [[noreturn]] void fail_timeout(const std::string& what) {
    std::fprintf(stderr, "%s\n", timeout_message(job_rank_, what, timeout_s_).c_str());
    std::fflush(stderr);
    ncclCommAbort(comm_);
    std::_Exit(1);
  }

  [[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "[zeroshard] rank %d: %s\n", job_rank_, why.c_str());
    std::fflush(stderr);
    ncclCommAbort(comm_);
    std::_Exit(1);
  }

  int job_rank_;
  int rank_ = 0, size_ = 1;
  c10::Device device_;
  double timeout_s_;
  c10::cuda::CUDAStream stream_;
  c10::intrusive_ptr<c10d::Store> store_;  // the job's store (rank 0 serves it)
  ncclComm_t comm_ = nullptr;
  std::string label_;

  std::mutex launch_mutex_;
  std::mutex mutex_;                       // guards pending_ and stopping_
  std::condition_variable wake_;
  std::deque<std::shared_ptr<PendingCollective>> pending_;
  bool stopping_ = false;
  std::thread watchdog_;
};

}  // namespace

void set_current_cuda_device(c10::Device device) { c10::cuda::set_device(device.index()); }

int cuda_device_count() { return static_cast<int>(c10::cuda::device_count()); }

std::shared_ptr<Communicator> make_nccl_communicator(const RankInfo& info, c10::Device device, double timeout_s,
                                                     c10::intrusive_ptr<c10d::Store> store) {
  c10::cuda::CUDAGuard guard(device.index());
  // Rendezvous: rank 0 publishes the NCCL id in the job's store; the others fetch it.
  ncclUniqueId id;
  const std::string key = "zeroshard/nccl_unique_id";
  if (info.rank == 0) {
    check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    const auto* bytes = reinterpret_cast<const uint8_t*>(&id);
    store->set(key, std::vector<uint8_t>(bytes, bytes + sizeof(id)));
  } else {
    std::vector<uint8_t> bytes = store->get(key);
    if (bytes.size() != sizeof(id)) throw std::runtime_error("NCCL bootstrap: the unique id from rank 0 has the wrong size");
    std::memcpy(&id, bytes.data(), sizeof(id));
  }
  ncclComm_t comm = nullptr;
  check_nccl(ncclCommInitRank(&comm, info.world_size, id, info.rank), "ncclCommInitRank");
  return std::make_shared<NcclCommunicator>(comm, info.rank, device, timeout_s, std::move(store));
}

}  // namespace zs
