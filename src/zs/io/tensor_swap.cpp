// TensorSwapStore: the directory checks, the key -> file table, and swaps direct or staged.
#include "zs/io/tensor_swap.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <ATen/ops/from_blob.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "zs/base/strings.hpp"
#include "zs/io/staging_buffers.hpp"

namespace zs {

static std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

static std::string gigabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

// Removes the *.swp files in a directory, then the directory if that leaves it empty.
static void remove_swap_directory(const std::string& directory) {
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (ends_with(name, ".swp")) ::unlink((directory + "/" + name).c_str());
  }
  ::closedir(dir);
  ::rmdir(directory.c_str());
}

// Store directories are named "zeroshard_rank<R>_pid<P>": one per process, so jobs that share an
// nvme_path never touch each other's files. Those of processes that no longer run on this host
// (a run that crashed before its store was destroyed) are removed; a live process's are left alone.
static void remove_directories_of_dead_processes(const std::string& base) {
  DIR* dir = ::opendir(base.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> dead;
  while (dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    const size_t at = name.rfind("_pid");
    const std::string prefix = "zeroshard_rank";
    if (name.compare(0, prefix.size(), prefix) != 0 || at == std::string::npos || at + 4 >= name.size()) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + at + 4, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH) dead.push_back(base + "/" + name);
  }
  ::closedir(dir);
  for (const std::string& path : dead) remove_swap_directory(path);
}

// ---- SwapHandle ------------------------------------------------------------------------------------

std::string SwapHandle::wait_for_error() const {
  std::string first;
  for (const IoHandle& part : parts_) {  // every part is waited for, even after a failure
    std::string error = part.wait_for_error();
    if (first.empty()) first = std::move(error);
  }
  return first;
}

void SwapHandle::wait() const {
  const std::string error = wait_for_error();
  if (!error.empty()) throw IoError(error);
}

bool SwapHandle::done() const {
  for (const IoHandle& part : parts_)
    if (!part.done()) return false;
  return true;
}

// ---- TensorSwapStore -------------------------------------------------------------------------------

TensorSwapStore::TensorSwapStore(const TensorSwapOptions& options) : options_(options) {
  const std::string& base = options_.nvme_path;
  if (base.empty()) throw IoError("zeroshard io: NVMe offload needs nvme_path (a directory on a local NVMe drive)");
  struct stat st {};
  if (::stat(base.c_str(), &st) != 0)
    throw IoError("zeroshard io: nvme_path " + base + " cannot be used: " + errno_text(errno));
  if (!S_ISDIR(st.st_mode)) throw IoError("zeroshard io: nvme_path " + base + " is not a directory");

  remove_directories_of_dead_processes(base);
  directory_ = base + "/zeroshard_rank" + std::to_string(options_.rank) + "_pid" + std::to_string(::getpid());
  if (::mkdir(directory_.c_str(), 0755) != 0 && errno != EEXIST)
    throw IoError("zeroshard io: cannot create the offload directory " + directory_ + ": " + errno_text(errno));
  try {
    check_and_start();
  } catch (...) {
    ::rmdir(directory_.c_str());  // a store that never started leaves nothing behind
    throw;
  }
}

void TensorSwapStore::check_and_start() {
  const std::string& base = options_.nvme_path;
  struct statvfs fs {};
  if (::statvfs(directory_.c_str(), &fs) != 0)
    throw IoError("zeroshard io: cannot read the free space of " + directory_ + ": " + errno_text(errno));
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < options_.reserve_bytes)
    throw IoError("zeroshard io: " + base + " has " + gigabytes(free_bytes) + " free, but rank " +
                  std::to_string(options_.rank) + "'s offload files need " + gigabytes(options_.reserve_bytes) +
                  "; free space there or point nvme_path elsewhere");

  io_ = AsyncIo::create(options_.io);
  staging_ = std::make_unique<StagingBufferPool>(options_.buffer_count, options_.buffer_bytes, options_.pin_memory);

  // Writability, checked the way the store writes: one aligned block out and back through the engine.
  const std::string probe_path = directory_ + "/probe.swp";
  {
    AsyncFile probe(io_, probe_path, AsyncFile::Mode::create);
    char* block = staging_->acquire();
    std::memset(block, 0x5a, kIoAlignment);
    std::string error = probe.write(block, kIoAlignment, 0).wait_for_error();
    if (error.empty()) error = probe.read(block, kIoAlignment, 0).wait_for_error();
    staging_->release(block);
    ::unlink(probe_path.c_str());
    if (!error.empty()) throw IoError("zeroshard io: the offload directory " + directory_ + " is not usable: " + error);
  }
}

TensorSwapStore::~TensorSwapStore() {
  wait_all();
  for (auto& [key, entry] : entries_) {
    entry->file.reset();
    ::unlink(entry->path.c_str());
  }
  ::rmdir(directory_.c_str());  // left in place when someone else put files there
}

TensorSwapStore::Entry& TensorSwapStore::entry_for_write(const std::string& key, const at::Tensor& tensor) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    auto entry = std::make_unique<Entry>();
    std::string safe;
    for (char c : key.substr(0, 96)) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
    entry->path = directory_ + "/" + std::to_string(next_file_id_++) + "_" + safe + ".swp";
    it = entries_.emplace(key, std::move(entry)).first;
  }
  Entry& entry = *it->second;
  (void)entry.last.wait_for_error();  // the key's previous operation finishes first; its own handle reports it
  const std::int64_t nbytes = static_cast<std::int64_t>(tensor.nbytes());
  if (!entry.file || entry.nbytes != nbytes) {
    entry.file.reset();
    entry.file = std::make_unique<AsyncFile>(io_, entry.path, AsyncFile::Mode::create);
    entry.file->preallocate(round_up_to_alignment(static_cast<std::size_t>(nbytes)));
  }
  entry.nbytes = nbytes;
  entry.dtype = tensor.scalar_type();
  return entry;
}

static void check_host_tensor(const at::Tensor& t, const std::string& key, const char* what) {
  if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous())
    throw std::invalid_argument("zeroshard io: " + std::string(what) + " of key \"" + key +
                                "\" needs a defined, contiguous CPU tensor");
}

SwapHandle TensorSwapStore::swap_out(const std::string& key, const at::Tensor& tensor) {
  check_host_tensor(tensor, key, "swap_out");
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = entry_for_write(key, tensor);
  entry.last = transfer(entry, tensor, true);
  return entry.last;
}

SwapHandle TensorSwapStore::swap_in(const std::string& key, const at::Tensor& into) {
  check_host_tensor(into, key, "swap_in");
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) throw std::invalid_argument("zeroshard io: swap_in of key \"" + key + "\", which was never swapped out");
  Entry& entry = *it->second;
  if (static_cast<std::int64_t>(into.nbytes()) != entry.nbytes || into.scalar_type() != entry.dtype)
    throw std::invalid_argument("zeroshard io: swap_in of key \"" + key + "\" into a tensor of " +
                                std::to_string(into.nbytes()) + " bytes (" + std::string(c10::toString(into.scalar_type())) +
                                "); it holds " + std::to_string(entry.nbytes) + " bytes (" +
                                std::string(c10::toString(entry.dtype)) + ")");
  (void)entry.last.wait_for_error();
  entry.last = transfer(entry, into, false);
  return entry.last;
}

SwapHandle TensorSwapStore::transfer(Entry& entry, const at::Tensor& tensor, bool is_write) {
  SwapHandle handle;
  char* data = static_cast<char*>(tensor.data_ptr());
  const std::size_t nbytes = static_cast<std::size_t>(entry.nbytes);
  if (nbytes == 0) return handle;

  if (reinterpret_cast<std::uintptr_t>(data) % kIoAlignment == 0) {  // straight to and from the tensor
    handle.keep_alive_ = tensor;
    handle.parts_.push_back(is_write ? entry.file->write(data, nbytes, 0) : entry.file->read(data, nbytes, 0));
    return handle;
  }

  // Staged: one buffer per piece; each buffer returns to the pool when its transfer finished (a
  // read copies into the tensor first), so pieces beyond buffer_count wait for earlier ones.
  StagingBufferPool* pool = staging_.get();
  const std::size_t piece_bytes = pool->buffer_bytes();
  for (std::size_t start = 0; start < nbytes; start += piece_bytes) {
    const std::size_t length = std::min(piece_bytes, nbytes - start);
    const std::size_t padded = round_up_to_alignment(length);  // the file is padded: all transfers aligned
    char* buffer = pool->acquire();
    if (is_write) {
      std::memcpy(buffer, data + start, length);
      std::memset(buffer + length, 0, padded - length);
      handle.parts_.push_back(entry.file->write(buffer, padded, start, [pool, buffer](const std::string&) {
        pool->release(buffer);
      }));
    } else {
      char* target = data + start;
      handle.keep_alive_ = tensor;
      handle.parts_.push_back(entry.file->read(buffer, padded, start, [pool, buffer, target, length](const std::string& error) {
        if (error.empty()) std::memcpy(target, buffer, length);
        pool->release(buffer);
      }));
    }
  }
  return handle;
}

bool TensorSwapStore::contains(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.count(key) != 0;
}

void TensorSwapStore::remove(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  (void)it->second->last.wait_for_error();
  it->second->file.reset();
  ::unlink(it->second->path.c_str());
  entries_.erase(it);
}

void TensorSwapStore::wait_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, entry] : entries_) (void)entry->last.wait_for_error();
}

std::uint64_t TensorSwapStore::stored_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [key, entry] : entries_) total += round_up_to_alignment(static_cast<std::size_t>(entry->nbytes));
  return total;
}

at::Tensor make_aligned_host_tensor(std::int64_t numel, at::ScalarType dtype) {
  const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(dtype);
  void* memory = allocate_aligned_host(bytes);
  return at::from_blob(memory, {numel}, [](void* p) { std::free(p); }, at::TensorOptions().dtype(dtype));
}

}  // namespace zs
