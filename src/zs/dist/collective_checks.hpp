// Argument checks and descriptions shared by every Communicator, so each backend rejects bad calls
// with the same clear messages and names collectives the same way in timeout reports.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "zs/dist/communicator.hpp"

namespace zs {

// "float32", "bfloat16", "int64", ...
std::string dtype_name(c10::ScalarType t);
// "all_reduce of 1024 x float32"
std::string describe_collective(const char* name, const at::Tensor& t);
const char* reduce_op_name(ReduceOp op);

// True when the two tensors' bytes overlap (MPI and NCCL's send/receive pairs must not).
bool tensors_overlap(const at::Tensor& a, const at::Tensor& b);

// Throw std::invalid_argument naming the collective and what is wrong.
void check_tensor(const char* collective, const at::Tensor& t, const c10::Device& device);
void check_reduce_scatter(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device);
void check_all_gather(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device);
void check_all_to_all(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device);
void check_root(const char* collective, int root, int world);

// The standard timeout report: "[zeroshard] rank R: <what> did not finish within T s; a peer rank may
// have died or hung".
std::string timeout_message(int rank, const std::string& what, double timeout_s);

// ZS_COMM_TIMEOUT from the environment, else 600 s.
double default_comm_timeout_s();

}  // namespace zs
