// POSIX file helpers for checkpoints: atomic writes (temp name, fsync, rename, fsync of the
// directory), directory listing and removal, CRC32 of a file. Plain POSIX calls on purpose:
// std::filesystem clashes with symbols LibTorch exports on some machines.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace zs {

// A checkpoint cannot be written or read: the message names the file and says what is wrong.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string join_path(const std::string& a, const std::string& b);
std::string parent_directory(const std::string& path);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
int64_t file_size_or_minus_one(const std::string& path);   // -1 when missing
void make_directories(const std::string& path);             // mkdir -p
void fsync_directory(const std::string& path);
void rename_path(const std::string& from, const std::string& to);
void remove_tree(const std::string& path);                 // rm -rf; a missing path is fine
std::vector<std::string> list_directory(const std::string& path);   // names, without . and ..
std::string read_text_file(const std::string& path);
// zlib CRC32 of the whole file, read in chunks (bounded memory).
uint32_t file_crc32(const std::string& path);

// What a finished file holds: its size and zlib CRC32.
struct FileSummary {
  int64_t bytes = 0;
  uint32_t crc32 = 0;
};

// Writes `path` atomically: the bytes go to "<path>.tmp-<pid>", which finish() fsyncs and renames
// over `path` (then fsyncs the directory). Dropped unfinished, the temp file is removed, so a
// crash or an error never leaves a half-written `path`. Keeps the CRC32 of what was written.
//
// Test hook: with ZS_CKPT_TEST_DIE_AFTER_FILES=k in the environment the process kills itself
// (SIGKILL) right after its k-th finished file, to simulate a crash in the middle of a save.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  FileSummary finish();
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_path_;
  int fd_ = -1;
  FileSummary summary_;
};

FileSummary write_file_atomic(const std::string& path, const std::string& content);

// Reads exactly `bytes` at `offset` from an open descriptor; throws naming `path` if the file ends first.
void read_exact(int fd, void* data, size_t bytes, int64_t offset, const std::string& path);

}  // namespace zs
