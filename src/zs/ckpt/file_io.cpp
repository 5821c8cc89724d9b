#include "zs/ckpt/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace zs {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw CheckpointError(what + " " + path + ": " + std::strerror(errno));
}

// Test hook: how many files this process may still finish before it "crashes".
int files_left_before_death() {
  static int left = [] {
    const char* v = std::getenv("ZS_CKPT_TEST_DIE_AFTER_FILES");
    return v && *v ? std::atoi(v) : -1;
  }();
  return left;
}

void count_finished_file() {
  static int finished = 0;
  const int limit = files_left_before_death();
  if (limit >= 0 && ++finished >= limit) raise(SIGKILL);
}

}  // namespace

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t file_size_or_minus_one(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return int64_t(st.st_size);
}

void make_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  const std::string parent = parent_directory(path);
  if (parent != path) make_directories(parent);
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create directory", path);
}

void fsync_directory(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) fail("cannot open directory", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("cannot fsync directory", path);
}

void rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename " + from + " to", to);
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    for (const std::string& name : list_directory(path)) remove_tree(join_path(path, name));
    if (::rmdir(path.c_str()) != 0) fail("cannot remove directory", path);
  } else if (::unlink(path.c_str()) != 0) {
    fail("cannot remove", path);
  }
}

std::vector<std::string> list_directory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) fail("cannot list directory", path);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

std::string read_text_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open", path);
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(fd);
  if (n < 0) fail("cannot read", path);
  return text;
}

uint32_t file_crc32(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open", path);
  std::vector<unsigned char> buf(4 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0) crc = crc32(crc, buf.data(), uInt(n));
  ::close(fd);
  if (n < 0) fail("cannot read", path);
  return uint32_t(crc);
}

void read_exact(int fd, void* data, size_t bytes, int64_t offset, const std::string& path) {
  char* out = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, out, bytes, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read", path);
    if (n == 0) throw CheckpointError(path + " is truncated (ends before byte " + std::to_string(offset + bytes) + ")");
    out += n, offset += n, bytes -= size_t(n);
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create", temp_path_);
  summary_.crc32 = uint32_t(crc32(0L, Z_NULL, 0));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  summary_.bytes += int64_t(bytes);
  // zlib's crc32 takes at most 4 GiB at a time.
  for (size_t done = 0; done < bytes;) {
    const size_t chunk = std::min<size_t>(bytes - done, size_t(1) << 30);
    summary_.crc32 = uint32_t(crc32(summary_.crc32, reinterpret_cast<const Bytef*>(p + done), uInt(chunk)));
    done += chunk;
  }
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", temp_path_);
    p += n, bytes -= size_t(n);
  }
}

FileSummary AtomicFileWriter::finish() {
  if (::fsync(fd_) != 0) fail("cannot fsync", temp_path_);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    ::unlink(temp_path_.c_str());
    fail("cannot close", temp_path_);
  }
  rename_path(temp_path_, path_);
  fsync_directory(parent_directory(path_));
  count_finished_file();
  return summary_;
}

FileSummary write_file_atomic(const std::string& path, const std::string& content) {
  AtomicFileWriter writer(path);
  writer.write(content.data(), content.size());
  return writer.finish();
}

}  // namespace zs
