// Write and read throughput of the NVMe offload I/O layer on one directory: both engines (io_uring,
// pread/pwrite threads) at a few request sizes, and TensorSwapStore swaps of an aligned tensor (in
// place) and of an unaligned one (through the staging buffers). Each pass moves --total-mib with
// every request submitted at once; writes are timed up to fdatasync. The best of --reps is printed.
//
//   bench_nvme --dir /local_nvme [--total-mib 2048] [--request-mib 1,8,64] [--chunk-mib 4]
//              [--queue-depth 32] [--threads 8] [--reps 3]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ATen/ops/empty.h>

#include "zs/io/async_file.hpp"
#include "zs/io/tensor_swap.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::size_t> parse_list(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(std::stoul(item));
  return out;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fdatasync(fd);
    ::close(fd);
  }
}

// The store's file names are its own business: flush the whole filesystem it lives on.
void sync_filesystem_of(const std::string& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

struct Result {
  double write_gbs = 0, read_gbs = 0;
};

// One file, `total` bytes as requests of `request` bytes, all in flight together.
Result run_file(const std::shared_ptr<zs::AsyncIo>& io, const std::string& path, char* buffer, std::size_t total,
                std::size_t request, int reps, bool* direct) {
  Result best;
  for (int rep = 0; rep < reps; ++rep) {
    zs::AsyncFile file(io, path, zs::AsyncFile::Mode::create);
    file.preallocate(total);
    *direct = file.direct();
    std::vector<zs::IoHandle> handles;
    auto start = Clock::now();
    for (std::size_t off = 0; off < total; off += request)
      handles.push_back(file.write(buffer + off, std::min(request, total - off), off));
    for (auto& h : handles) h.wait();
    sync_file(path);
    best.write_gbs = std::max(best.write_gbs, total / seconds_since(start) / 1e9);
    handles.clear();
    start = Clock::now();
    for (std::size_t off = 0; off < total; off += request)
      handles.push_back(file.read(buffer + off, std::min(request, total - off), off));
    for (auto& h : handles) h.wait();
    best.read_gbs = std::max(best.read_gbs, total / seconds_since(start) / 1e9);
  }
  ::unlink(path.c_str());
  return best;
}

Result run_store(zs::TensorSwapStore& store, const at::Tensor& tensor, int reps) {
  Result best;
  for (int rep = 0; rep < reps; ++rep) {
    auto start = Clock::now();
    store.swap_out("bench", tensor).wait();
    sync_filesystem_of(store.directory());
    best.write_gbs = std::max(best.write_gbs, tensor.nbytes() / seconds_since(start) / 1e9);
    start = Clock::now();
    store.swap_in("bench", tensor).wait();
    best.read_gbs = std::max(best.read_gbs, tensor.nbytes() / seconds_since(start) / 1e9);
  }
  store.remove("bench");
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"NVMe offload I/O throughput: AsyncFile on both engines and TensorSwapStore"};
  std::string dir = "/tmp", request_text = "1,8,64";
  std::size_t total_mib = 2048, chunk_mib = 4;
  int queue_depth = 32, threads = 8, reps = 3;
  app.add_option("--dir", dir, "directory on the drive to measure");
  app.add_option("--total-mib", total_mib, "MiB moved per pass");
  app.add_option("--request-mib", request_text, "request sizes in MiB, comma-separated");
  app.add_option("--chunk-mib", chunk_mib, "chunk size the engines split requests into");
  app.add_option("--queue-depth", queue_depth, "io_uring chunks in flight");
  app.add_option("--threads", threads, "threads engine: chunks in flight");
  app.add_option("--reps", reps, "passes per row (the best is printed)");
  CLI11_PARSE(app, argc, argv);

  const std::size_t total = total_mib << 20;
  char* buffer = static_cast<char*>(zs::allocate_aligned_host(total));
  for (std::size_t i = 0; i < total; i += 4096) buffer[i] = static_cast<char>(i >> 12);  // touch every page

  std::printf("directory %s, %zu MiB per pass, chunks of %zu MiB, queue depth %d, %d threads, best of %d\n",
              dir.c_str(), total_mib, chunk_mib, queue_depth, threads, reps);
  std::printf("%-10s %-28s %8s %10s %10s\n", "engine", "what", "O_DIRECT", "write GB/s", "read GB/s");
  for (zs::IoEngineKind kind : {zs::IoEngineKind::io_uring, zs::IoEngineKind::threads}) {
    zs::AsyncIoOptions o;
    o.engine = kind;
    o.chunk_bytes = chunk_mib << 20;
    o.queue_depth = queue_depth;
    o.thread_count = threads;
    std::shared_ptr<zs::AsyncIo> io;
    try {
      io = zs::AsyncIo::create(o);
    } catch (const zs::IoError& e) {
      std::printf("%-10s skipped: %s\n", kind == zs::IoEngineKind::threads ? "threads" : "io_uring", e.what());
      continue;
    }
    for (std::size_t request_mib : parse_list(request_text)) {
      bool direct = false;
      const Result r = run_file(io, dir + "/zs_bench_nvme.bin", buffer, total, request_mib << 20, reps, &direct);
      const std::string what = "requests of " + std::to_string(request_mib) + " MiB";
      std::printf("%-10s %-28s %8s %10.2f %10.2f\n", io->engine_name(), what.c_str(), direct ? "yes" : "no",
                  r.write_gbs, r.read_gbs);
      std::fflush(stdout);
    }

    zs::TensorSwapOptions so;
    so.nvme_path = dir;
    so.buffer_count = 4;
    so.buffer_bytes = 64 << 20;
    so.reserve_bytes = total;
    so.io = o;
    zs::TensorSwapStore store(so);
    const std::int64_t numel = static_cast<std::int64_t>(total / 4);
    at::Tensor aligned = zs::make_aligned_host_tensor(numel, at::kFloat);
    aligned.fill_(1.0f);
    Result r = run_store(store, aligned, reps);
    std::printf("%-10s %-28s %8s %10.2f %10.2f\n", io->engine_name(), "store, aligned tensor", "", r.write_gbs,
                r.read_gbs);
    at::Tensor unaligned = at::empty({numel + 1}).narrow(0, 1, numel);  // through 4 x 64 MiB staging buffers
    unaligned.fill_(1.0f);
    r = run_store(store, unaligned, reps);
    std::printf("%-10s %-28s %8s %10.2f %10.2f\n", io->engine_name(), "store, staged tensor", "", r.write_gbs,
                r.read_gbs);
    std::fflush(stdout);
  }
  std::free(buffer);
  return 0;
}
