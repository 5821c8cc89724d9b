// MpiCommunicator: non-blocking MPI collectives on CPU tensors; Work::wait() polls MPI_Test so a
// collective that never completes (a dead or hung peer) ends the job after the timeout instead of
// blocking forever.
#include "zs/dist/mpi_communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ATen/ops/empty_like.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "zs/dist/collective_checks.hpp"
#include "zs/dist/collective_progress.hpp"

namespace zs {
namespace {

// MPI_THREAD_SERIALIZED allows one MPI call at a time in the whole process, whichever communicator
// (the world's or a group's) it is on: every call goes through this lock. Never destroyed: states
// held by the orphan list are freed during static destruction.
std::mutex& mpi_mutex() {
  static std::mutex* m = new std::mutex;
  return *m;
}

// What works share with their communicator.
struct MpiState {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  int job_rank = 0;  // the rank in the whole job, which messages name (a group's ranks start at 0)
  std::string label;  // appended to a group's collective names: " in a group of 2 ranks"
  double timeout_s = 600;

  ~MpiState() {
    std::lock_guard<std::mutex> lock(mpi_mutex());
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }
};

// ---- collectives dropped before they finished ------------------------------------------------------

// A work dropped while its collective is still in flight (a stage-3 prefetch when the engine goes away)
// leaves MPI reading and writing its buffers: they stay alive here until the collective completes, at
// the latest on the way out, before MPI_Finalize, which must not find one pending.
struct Orphan {
  std::shared_ptr<MpiState> state;
  MPI_Request request;
  std::vector<at::Tensor> buffers;
  std::string what;
};

std::mutex orphans_mutex;
std::vector<Orphan> orphans;

void adopt_orphan(Orphan orphan) {
  std::lock_guard<std::mutex> lock(orphans_mutex);
  orphans.push_back(std::move(orphan));
}

// False when one did not complete within its communicator's timeout (a peer never started it).
bool complete_orphans() {
  std::lock_guard<std::mutex> lock(orphans_mutex);
  for (Orphan& o : orphans) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      int flag = 0;
      {
        std::lock_guard<std::mutex> mpi_lock(mpi_mutex());
        MPI_Test(&o.request, &flag, MPI_STATUS_IGNORE);
      }
      if (flag) break;
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.state->timeout_s) {
        std::fprintf(stderr, "[zeroshard] rank %d: %s, dropped unfinished, was still pending at exit after %.0f s\n",
                     o.state->job_rank, o.what.c_str(), o.state->timeout_s);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  orphans.clear();
  return true;
}

// ---- MPI lifetime ------------------------------------------------------------------------------

// A rank that exits with a non-zero status skips MPI_Finalize: finalizing waits for the other ranks,
// which may be blocked in a collective with it, while the bare exit status makes mpirun stop the job.
void finalize_at_exit(int status, void*) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  if (status != 0) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    // zsrun reads this line to name the failing rank.
    std::fprintf(stderr, "[zeroshard] rank %d: exits with code %d (skipping MPI_Finalize; mpirun ends the job)\n",
                 rank, status & 0xff);
    std::fflush(stderr);
    return;
  }
  if (!complete_orphans()) {
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);  // finalizing would wait for it forever
    std::_Exit(1);
  }
  MPI_Finalize();
}

void ensure_mpi_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = 0;
    if (initialized) {
      MPI_Query_thread(&provided);  // the program set MPI up itself; it also finalizes it
    } else {
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
      on_exit(finalize_at_exit, nullptr);
    }
    if (provided < MPI_THREAD_SERIALIZED) {
      throw std::runtime_error("MPI provides thread level " + std::to_string(provided) +
                               "; ZeroShard needs MPI_THREAD_SERIALIZED or higher");
    }
  });
}

// ---- 16-bit floats: MPI has no bf16/fp16 types, so they travel as 2-byte blobs reduced in float ----

enum class Combine { sum, max, min };

template <typename T, Combine C>
void reduce_16bit(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
    float r = C == Combine::sum ? x + y : C == Combine::max ? std::max(x, y) : std::min(x, y);
    b[i] = static_cast<T>(r);
  }
}

struct SixteenBitTypes {
  MPI_Datatype bf16, fp16;
  MPI_Op bf16_ops[3], fp16_ops[3];  // sum, max, min
};

const SixteenBitTypes& sixteen_bit_types() {
  static SixteenBitTypes t = [] {
    SixteenBitTypes s;
    MPI_Type_contiguous(2, MPI_BYTE, &s.bf16);
    MPI_Type_commit(&s.bf16);
    MPI_Type_contiguous(2, MPI_BYTE, &s.fp16);
    MPI_Type_commit(&s.fp16);
    MPI_Op_create(&reduce_16bit<c10::BFloat16, Combine::sum>, 1, &s.bf16_ops[0]);
    MPI_Op_create(&reduce_16bit<c10::BFloat16, Combine::max>, 1, &s.bf16_ops[1]);
    MPI_Op_create(&reduce_16bit<c10::BFloat16, Combine::min>, 1, &s.bf16_ops[2]);
    MPI_Op_create(&reduce_16bit<c10::Half, Combine::sum>, 1, &s.fp16_ops[0]);
    MPI_Op_create(&reduce_16bit<c10::Half, Combine::max>, 1, &s.fp16_ops[1]);
    MPI_Op_create(&reduce_16bit<c10::Half, Combine::min>, 1, &s.fp16_ops[2]);
    return s;
  }();
  return t;
}

MPI_Datatype mpi_type(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return MPI_FLOAT;
    case c10::kDouble: return MPI_DOUBLE;
    case c10::kInt: return MPI_INT32_T;
    case c10::kLong: return MPI_INT64_T;
    case c10::kShort: return MPI_INT16_T;
    case c10::kChar: return MPI_INT8_T;
    case c10::kByte: return MPI_UINT8_T;
    case c10::kBool: return MPI_C_BOOL;
    case c10::kBFloat16: return sixteen_bit_types().bf16;
    case c10::kHalf: return sixteen_bit_types().fp16;
    default:
      throw std::invalid_argument("MPI collectives do not support dtype " + dtype_name(t));
  }
}

MPI_Op mpi_op(c10::ScalarType t, ReduceOp op) {
  int index = op == ReduceOp::max ? 1 : op == ReduceOp::min ? 2 : 0;  // avg: sum, divided afterwards
  if (t == c10::kBFloat16) return sixteen_bit_types().bf16_ops[index];
  if (t == c10::kHalf) return sixteen_bit_types().fp16_ops[index];
  if (t == c10::kBool) {
    if (op == ReduceOp::avg) throw std::invalid_argument("avg of bool tensors has no meaning");
    return op == ReduceOp::min ? MPI_LAND : MPI_LOR;  // sum/max: any rank true; min: all true
  }
  return index == 1 ? MPI_MAX : index == 2 ? MPI_MIN : MPI_SUM;
}

int mpi_count(const char* collective, int64_t numel) {
  if (numel > INT_MAX) {
    throw std::invalid_argument(std::string(collective) + ": " + std::to_string(numel) +
                                " elements exceed MPI's count limit (2^31-1); split the tensor");
  }
  return static_cast<int>(numel);
}

void divide_by_world(const at::Tensor& t, int world) {
  if (at::isFloatingType(t.scalar_type())) {
    t.div_(world);
  } else {
    t.div_(world, "trunc");
  }
}

// ---- the communicator ------------------------------------------------------------------------------

class MpiWork : public Work {
 public:
  // `observer` (may be null) hears of the collective `op` of `bytes` once it is done.
  MpiWork(std::shared_ptr<MpiState> state, std::string what, std::vector<at::Tensor> keep_alive,
          std::function<void()> finish, std::shared_ptr<CollectiveObserver> observer = nullptr,
          const char* op = "", int64_t bytes = 0)
      : state_(std::move(state)), what_(std::move(what)), keep_alive_(std::move(keep_alive)),
        finish_(std::move(finish)), observer_(std::move(observer)), op_(op), bytes_(bytes),
        start_(std::chrono::steady_clock::now()), seq_(collective_progress().started(what_)) {}

  ~MpiWork() override {
    if (done_) return;
    collective_progress().finished(seq_);  // dropped unfinished: the watchdog stops counting it
    adopt_orphan({state_, request_, std::move(keep_alive_), what_});
  }

  MPI_Request* request() { return &request_; }

  void wait() override {
    int polls = 0;
    while (!test()) {
      double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      if (waited > state_->timeout_s) {
        std::fprintf(stderr, "%s\n", timeout_message(state_->job_rank, what_, state_->timeout_s).c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);  // ends every rank of the job
        std::_Exit(1);
      }
      // Spin briefly for short collectives, then poll gently to leave the cores to the peers.
      if (++polls < 2000) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
  }

  bool completed() override { return test(); }

 private:
  bool test() {
    if (done_) return true;
    int flag = 0;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      MPI_Test(&request_, &flag, MPI_STATUS_IGNORE);
    }
    if (flag) {
      done_ = true;
      collective_progress().finished(seq_);
      if (observer_)
        observer_->finished(op_, bytes_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
      if (finish_) finish_();
      keep_alive_.clear();
      finish_ = nullptr;
    }
    return done_;
  }

  std::shared_ptr<MpiState> state_;
  std::string what_;
  std::vector<at::Tensor> keep_alive_;
  std::function<void()> finish_;  // after completion: avg division, copy out of a scratch buffer
  std::shared_ptr<CollectiveObserver> observer_;
  const char* op_;
  int64_t bytes_;
  std::chrono::steady_clock::time_point start_;
  uint64_t seq_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool done_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(std::shared_ptr<MpiState> state) : state_(std::move(state)) {}

  int rank() const override { return state_->rank; }
  int size() const override { return state_->size; }
  std::string backend() const override { return "mpi"; }

  WorkHandle all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    check_tensor("all_reduce", tensor, cpu_);
    int count = mpi_count("all_reduce", tensor.numel());
    MPI_Datatype type = mpi_type(tensor.scalar_type());
    MPI_Op mop = mpi_op(tensor.scalar_type(), op);
    std::function<void()> finish;
    if (op == ReduceOp::avg) finish = [tensor, n = size()] { divide_by_world(tensor, n); };
    auto work = make_work(describe_collective("all_reduce", tensor), {tensor}, std::move(finish), "all_reduce",
                          int64_t(tensor.nbytes()));
    std::lock_guard<std::mutex> lock(mpi_mutex());
    MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), count, type, mop, state_->comm, work->request());
    return work;
  }

  WorkHandle reduce_scatter(const at::Tensor& output, const at::Tensor& input, ReduceOp op) override {
    check_reduce_scatter(output, input, size(), cpu_);
    int count = mpi_count("reduce_scatter", output.numel());
    mpi_count("reduce_scatter", input.numel());
    MPI_Datatype type = mpi_type(output.scalar_type());
    MPI_Op mop = mpi_op(output.scalar_type(), op);
    // MPI forbids overlapping send and receive buffers: reduce into scratch and copy out.
    at::Tensor recv = tensors_overlap(output, input) ? at::empty_like(output) : output;
    int n = size();
    std::function<void()> finish = [output, recv, op, n] {
      if (op == ReduceOp::avg) divide_by_world(recv, n);
      if (!recv.is_same(output)) output.copy_(recv);
    };
    auto work = make_work(describe_collective("reduce_scatter", input), {output, input, recv}, std::move(finish),
                          "reduce_scatter", int64_t(input.nbytes()));
    std::lock_guard<std::mutex> lock(mpi_mutex());
    MPI_Ireduce_scatter_block(input.data_ptr(), recv.data_ptr(), count, type, mop, state_->comm, work->request());
    return work;
  }

  WorkHandle all_gather(const at::Tensor& output, const at::Tensor& input) override {
    check_all_gather(output, input, size(), cpu_);
    int count = mpi_count("all_gather", input.numel());
    mpi_count("all_gather", output.numel());
    MPI_Datatype type = mpi_type(input.scalar_type());
    const char* own_chunk = static_cast<const char*>(output.data_ptr()) + rank() * input.nbytes();
    const void* send = input.data_ptr();
    at::Tensor send_copy;
    if (input.data_ptr() == own_chunk) {
      send = MPI_IN_PLACE;  // the input already sits where this rank's part of the output goes
    } else if (tensors_overlap(output, input)) {
      send_copy = input.clone();
      send = send_copy.data_ptr();
    }
    auto work = make_work(describe_collective("all_gather", output), {output, input, send_copy}, nullptr, "all_gather",
                          int64_t(output.nbytes()));
    std::lock_guard<std::mutex> lock(mpi_mutex());
    MPI_Iallgather(send, count, type, output.data_ptr(), count, type, state_->comm, work->request());
    return work;
  }

  WorkHandle all_to_all(const at::Tensor& output, const at::Tensor& input) override {
    check_all_to_all(output, input, size(), cpu_);
    int count = mpi_count("all_to_all", input.numel() / size());
    MPI_Datatype type = mpi_type(input.scalar_type());
    // MPI forbids overlapping send and receive buffers: send from a copy when they share memory.
    at::Tensor send = tensors_overlap(output, input) ? input.clone() : input;
    auto work = make_work(describe_collective("all_to_all", input), {output, input, send}, nullptr, "all_to_all",
                          int64_t(input.nbytes()));
    std::lock_guard<std::mutex> lock(mpi_mutex());
    MPI_Ialltoall(send.data_ptr(), count, type, output.data_ptr(), count, type, state_->comm, work->request());
    return work;
  }

  WorkHandle broadcast(const at::Tensor& tensor, int root) override {
    check_tensor("broadcast", tensor, cpu_);
    check_root("broadcast", root, size());
    int count = mpi_count("broadcast", tensor.numel());
    MPI_Datatype type = mpi_type(tensor.scalar_type());
    auto work = make_work(describe_collective("broadcast", tensor), {tensor}, nullptr, "broadcast", int64_t(tensor.nbytes()));
    std::lock_guard<std::mutex> lock(mpi_mutex());
    MPI_Ibcast(tensor.data_ptr(), count, type, root, state_->comm, work->request());
    return work;
  }

  void barrier() override {
    auto work = make_work("barrier", {}, nullptr);
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      MPI_Ibarrier(state_->comm, work->request());
    }
    work->wait();
  }

  std::shared_ptr<Communicator> split(int color, int key) override {
    // MPI_Comm_split blocks with no timeout: meet every rank first in a barrier that has one, so a
    // rank that never comes ends the job with the usual message instead of hanging it.
    auto work = make_work("split (color " + std::to_string(color) + ", key " + std::to_string(key) + ")", {}, nullptr);
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      MPI_Ibarrier(state_->comm, work->request());
    }
    work->wait();
    auto group = std::make_shared<MpiState>();
    group->timeout_s = state_->timeout_s;
    group->job_rank = state_->job_rank;
    {
      std::lock_guard<std::mutex> lock(mpi_mutex());
      MPI_Comm_split(state_->comm, color < 0 ? MPI_UNDEFINED : color, key, &group->comm);
      if (group->comm != MPI_COMM_NULL) {
        MPI_Comm_rank(group->comm, &group->rank);
        MPI_Comm_size(group->comm, &group->size);
        group->label = " in a group of " + std::to_string(group->size) + " ranks";
      }
    }
    if (group->comm == MPI_COMM_NULL) return nullptr;
    return std::make_shared<MpiCommunicator>(std::move(group));
  }

  [[noreturn]] void abort(const std::string& why) override {
    std::fprintf(stderr, "[zeroshard] rank %d: aborting: %s\n", state_->job_rank, why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

 private:
  std::shared_ptr<MpiWork> make_work(std::string what, std::vector<at::Tensor> keep, std::function<void()> finish,
                                     const char* op = "", int64_t bytes = 0) {
    return std::make_shared<MpiWork>(state_, std::move(what) + state_->label, std::move(keep), std::move(finish),
                                     *op ? observer() : nullptr, op, bytes);
  }

  std::shared_ptr<MpiState> state_;
  c10::Device cpu_ = c10::Device(c10::kCPU);
};

// True when an MPI launcher started this process, or srun with an MPI plugin (PMIx, PMI-2): MPI_Init
// would otherwise make a world of one, or abort.
bool started_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_FD"}) {
    if (std::getenv(name)) return true;
  }
  return false;
}

std::string how_to_start(int n) {
  return "CPU ranks talk through MPI: start them with `zsrun --num_procs " + std::to_string(n) + "` or mpirun";
}

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(const RankInfo& info, double timeout_s) {
  if (info.world_size > 1 && !started_by_mpi_launcher() && std::getenv("SLURM_PROCID")) {
    throw std::runtime_error(
        "this process was started by srun without an MPI plugin (SLURM_PROCID=" + std::to_string(info.rank) +
        " of " + std::to_string(info.world_size) + ", no PMIx/PMI variables), and CPU ranks talk through MPI. "
        "Start them with `srun --mpi=pmix ...` (`srun --mpi=list` shows the plugins this cluster has), or with "
        "mpirun inside the allocation (or `zsrun --num_procs N ...` on one node)");
  }
  if (info.world_size > 1 && !started_by_mpi_launcher()) {
    throw std::runtime_error(how_to_start(info.world_size) + " (this process has RANK=" + std::to_string(info.rank) +
                             ", WORLD_SIZE=" + std::to_string(info.world_size) + " from " + launcher_name(info.launcher) +
                             " but no MPI launcher started it)");
  }
  ensure_mpi_initialized();
  auto state = std::make_shared<MpiState>();
  state->timeout_s = timeout_s;
  MPI_Comm_dup(MPI_COMM_WORLD, &state->comm);  // our own communicator: no clash with the program's MPI use
  MPI_Comm_rank(state->comm, &state->rank);
  MPI_Comm_size(state->comm, &state->size);
  state->job_rank = state->rank;
  if (state->size != info.world_size || state->rank != info.rank) {
    throw std::runtime_error("MPI says rank " + std::to_string(state->rank) + " of " + std::to_string(state->size) +
                             " but the environment (" + launcher_name(info.launcher) + ") says rank " +
                             std::to_string(info.rank) + " of " + std::to_string(info.world_size) + ". " +
                             how_to_start(info.world_size));
  }
  return std::make_shared<MpiCommunicator>(std::move(state));
}

JobStore share_job_store() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char address[256] = {0};
  JobStore js;
  if (rank == 0) {
    js = serve_store_on_free_port();
    std::snprintf(address, sizeof(address), "%s", js.address.c_str());
  }
  MPI_Bcast(address, sizeof(address), MPI_CHAR, 0, MPI_COMM_WORLD);
  js.address = address;  // the others connect from the watchdog's thread, where a stopped rank 0 is found
  return js;
}

}  // namespace zs
