#include "zs/dist/collective_checks.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace zs {

std::string dtype_name(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return "float32";
    case c10::kDouble: return "float64";
    case c10::kHalf: return "float16";
    case c10::kBFloat16: return "bfloat16";
    case c10::kInt: return "int32";
    case c10::kLong: return "int64";
    case c10::kShort: return "int16";
    case c10::kChar: return "int8";
    case c10::kByte: return "uint8";
    case c10::kBool: return "bool";
    default: return c10::toString(t);
  }
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::avg: return "avg";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

std::string describe_collective(const char* name, const at::Tensor& t) {
  return std::string(name) + " of " + std::to_string(t.numel()) + " x " + dtype_name(t.scalar_type());
}

bool tensors_overlap(const at::Tensor& a, const at::Tensor& b) {
  auto a0 = static_cast<const char*>(a.data_ptr()), b0 = static_cast<const char*>(b.data_ptr());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

void check_tensor(const char* collective, const at::Tensor& t, const c10::Device& device) {
  if (!t.defined()) throw std::invalid_argument(std::string(collective) + ": the tensor is undefined");
  if (!t.is_contiguous()) throw std::invalid_argument(std::string(collective) + ": the tensor must be contiguous");
  if (t.device() != device) {
    throw std::invalid_argument(std::string(collective) + ": the tensor is on " + t.device().str() +
                                " but this communicator works on " + device.str());
  }
}

void check_reduce_scatter(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device) {
  check_tensor("reduce_scatter", output, device);
  check_tensor("reduce_scatter", input, device);
  if (input.scalar_type() != output.scalar_type()) {
    throw std::invalid_argument("reduce_scatter: input is " + dtype_name(input.scalar_type()) + " but output is " +
                                dtype_name(output.scalar_type()));
  }
  if (input.numel() != output.numel() * world) {
    std::ostringstream s;
    s << "reduce_scatter: input has " << input.numel() << " elements, want world size (" << world
      << ") x output elements (" << output.numel() << ") = " << output.numel() * world;
    throw std::invalid_argument(s.str());
  }
}

void check_all_gather(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device) {
  check_tensor("all_gather", output, device);
  check_tensor("all_gather", input, device);
  if (input.scalar_type() != output.scalar_type()) {
    throw std::invalid_argument("all_gather: input is " + dtype_name(input.scalar_type()) + " but output is " +
                                dtype_name(output.scalar_type()));
  }
  if (output.numel() != input.numel() * world) {
    std::ostringstream s;
    s << "all_gather: output has " << output.numel() << " elements, want world size (" << world
      << ") x input elements (" << input.numel() << ") = " << input.numel() * world;
    throw std::invalid_argument(s.str());
  }
}

void check_all_to_all(const at::Tensor& output, const at::Tensor& input, int world, const c10::Device& device) {
  check_tensor("all_to_all", output, device);
  check_tensor("all_to_all", input, device);
  if (input.scalar_type() != output.scalar_type()) {
    throw std::invalid_argument("all_to_all: input is " + dtype_name(input.scalar_type()) + " but output is " +
                                dtype_name(output.scalar_type()));
  }
  if (input.numel() != output.numel() || input.numel() % world != 0) {
    std::ostringstream s;
    s << "all_to_all: input has " << input.numel() << " elements and output " << output.numel()
      << "; want the same count, a multiple of the world size (" << world << ")";
    throw std::invalid_argument(s.str());
  }
}

void check_root(const char* collective, int root, int world) {
  if (root < 0 || root >= world) {
    throw std::invalid_argument(std::string(collective) + ": root " + std::to_string(root) +
                                " is not a rank (0.." + std::to_string(world - 1) + ")");
  }
}

std::string timeout_message(int rank, const std::string& what, double timeout_s) {
  std::ostringstream s;
  s << "[zeroshard] rank " << rank << ": " << what << " did not finish within " << timeout_s
    << " s; a peer rank may have died or hung";
  return s.str();
}

double default_comm_timeout_s() {
  const char* v = std::getenv("ZS_COMM_TIMEOUT");
  if (!v || !*v) return 600;
  char* end = nullptr;
  double t = std::strtod(v, &end);
  if (end == v || *end != '\0' || !(t > 0)) {
    throw std::runtime_error(std::string("ZS_COMM_TIMEOUT='") + v + "' is not a positive number of seconds");
  }
  return t;
}

}  // namespace zs
