// libFuzzer target: the safetensors reader on arbitrary file contents (header length, JSON header,
// data). The bytes go to an in-memory file (memfd) that SafetensorsReader opens by its
// /proc/self/fd path, so the reader runs exactly as on a checkpoint shard. Opening must succeed
// or throw CheckpointError; a file it opens must then give every tensor it lists. Any other
// exception, a crash, a hang, a leak or undefined behaviour is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "zs/ckpt/safetensors.hpp"

namespace {

// One memfd for the whole run, rewritten for each input.
int memory_file() {
  static const int fd = [] {
    const int f = memfd_create("fuzz_safetensors", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

void write_all(int fd, const uint8_t* data, size_t size) {
  if (ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, off_t(done));
    if (n <= 0) std::abort();
    done += size_t(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memory_file();
  write_all(fd, data, size);
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    zs::SafetensorsReader reader(path);
    for (const zs::TensorInfo& t : reader.tensors()) {
      const at::Tensor whole = reader.read(t.name);
      if (whole.numel() != t.numel()) std::abort();
      if (t.numel() > 1) (void)reader.read_elements(t.name, 1, t.numel());
    }
    (void)reader.metadata();
  } catch (const zs::CheckpointError&) {
    // The expected outcome for a damaged file.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the safetensors reader threw something other than CheckpointError: %s\n", e.what());
    std::abort();
  }
  return 0;
}
