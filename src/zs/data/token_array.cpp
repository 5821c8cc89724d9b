#include "zs/data/token_array.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace zs {

TokenArray TokenArray::map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open token file '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot stat token file '" + path + "': " + std::strerror(err));
  }
  const auto bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0) {
    ::close(fd);
    throw std::runtime_error("token file '" + path + "' is empty");
  }
  if (bytes % sizeof(uint16_t) != 0) {
    ::close(fd);
    throw std::runtime_error("token file '" + path + "' has an odd number of bytes (" + std::to_string(bytes) +
                             "); expected uint16 tokens");
  }
  void* addr = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid after the descriptor is closed
  if (addr == MAP_FAILED) throw std::runtime_error("cannot mmap token file '" + path + "': " + std::strerror(err));

  TokenArray out;
  out.owner_ = std::shared_ptr<const void>(addr, [bytes](const void* p) { ::munmap(const_cast<void*>(p), bytes); });
  out.data_ = static_cast<const uint16_t*>(addr);
  out.size_ = bytes / sizeof(uint16_t);
  return out;
}

TokenArray TokenArray::from_vector(std::vector<uint16_t> tokens) {
  auto owned = std::make_shared<const std::vector<uint16_t>>(std::move(tokens));
  TokenArray out;
  out.data_ = owned->data();
  out.size_ = owned->size();
  out.owner_ = std::move(owned);
  return out;
}

}  // namespace zs
