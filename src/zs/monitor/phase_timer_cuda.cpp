// wall_clock_breakdown on a GPU: marks are CUDA events recorded on the current stream, reused
// from a small pool (GPU build only).
#include <cuda_runtime.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <stdexcept>
#include <string>

#include "zs/monitor/phase_timer.hpp"

namespace zs {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string("wall_clock_breakdown: ") + what + ": " + cudaGetErrorString(err));
}

class CudaMarks : public DeviceMarks {
 public:
  explicit CudaMarks(c10::DeviceIndex index) : index_(index) { mark(); }
  ~CudaMarks() override {
    for (cudaEvent_t e : marks_) cudaEventDestroy(e);
    for (cudaEvent_t e : pool_) cudaEventDestroy(e);
  }

  void mark() override {
    c10::cuda::CUDAGuard guard(index_);
    cudaEvent_t event = nullptr;
    if (pool_.empty()) {
      check(cudaEventCreate(&event), "cudaEventCreate");
    } else {
      event = pool_.back();
      pool_.pop_back();
    }
    check(cudaEventRecord(event, c10::cuda::getCurrentCUDAStream(index_).stream()), "cudaEventRecord");
    marks_.push_back(event);
  }

  std::vector<double> intervals() override {
    c10::cuda::CUDAGuard guard(index_);
    std::vector<double> out;
    if (marks_.size() < 2) return out;
    check(cudaEventSynchronize(marks_.back()), "cudaEventSynchronize");
    for (size_t i = 1; i < marks_.size(); ++i) {
      float ms = 0;
      check(cudaEventElapsedTime(&ms, marks_[i - 1], marks_[i]), "cudaEventElapsedTime");
      out.push_back(1e-3 * ms);
    }
    for (size_t i = 0; i + 1 < marks_.size(); ++i) pool_.push_back(marks_[i]);
    marks_ = {marks_.back()};
    return out;
  }

 private:
  c10::DeviceIndex index_;
  std::vector<cudaEvent_t> marks_, pool_;
};

}  // namespace

std::unique_ptr<DeviceMarks> make_cuda_marks(c10::DeviceIndex index) { return std::make_unique<CudaMarks>(index); }

}  // namespace zs
