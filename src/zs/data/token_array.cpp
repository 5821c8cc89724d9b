#include "zs/data/token_array.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace zs {

TokenArray TokenArray::map_file(const std::string& path, int token_bytes) {
  if (token_bytes != 2 && token_bytes != 4)
    throw std::invalid_argument("token files hold uint16 or uint32 tokens, not " + std::to_string(token_bytes) + "-byte ones");
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
  if (bytes % size_t(token_bytes) != 0) {
    ::close(fd);
    throw std::runtime_error("token file '" + path + "' has " + std::to_string(bytes) + " bytes, not a whole number of " +
                             (token_bytes == 2 ? "uint16" : "uint32") + " tokens");
  }
  void* addr = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping stays valid after the descriptor is closed
  if (addr == MAP_FAILED) throw std::runtime_error("cannot mmap token file '" + path + "': " + std::strerror(err));

  TokenArray out;
  out.owner_ = std::shared_ptr<const void>(addr, [bytes](const void* p) { ::munmap(const_cast<void*>(p), bytes); });
  out.data_ = addr;
  out.size_ = bytes / size_t(token_bytes);
  out.token_bytes_ = token_bytes;
  return out;
}

namespace {
// Moves `tokens` into shared ownership and points `data` and `size` at them.
template <class T>
void own(std::vector<T> tokens, std::shared_ptr<const void>& owner, const void*& data, size_t& size) {
  auto vector = std::make_shared<const std::vector<T>>(std::move(tokens));
  data = vector->data();
  size = vector->size();
  owner = std::move(vector);
}
}  // namespace

TokenArray TokenArray::from_vector(std::vector<uint16_t> tokens) {
  TokenArray out;
  own(std::move(tokens), out.owner_, out.data_, out.size_);
  out.token_bytes_ = 2;
  return out;
}

TokenArray TokenArray::from_vector(std::vector<uint32_t> tokens) {
  TokenArray out;
  own(std::move(tokens), out.owner_, out.data_, out.size_);
  out.token_bytes_ = 4;
  return out;
}

void TokenArray::copy_to(size_t offset, size_t count, int64_t* out) const {
  if (offset + count > size_)
    throw std::out_of_range("tokens [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                            ") are past the end (" + std::to_string(size_) + ")");
  if (token_bytes_ == 2) {
    const uint16_t* src = static_cast<const uint16_t*>(data_) + offset;
    for (size_t i = 0; i < count; ++i) out[i] = src[i];
  } else {
    const uint32_t* src = static_cast<const uint32_t*>(data_) + offset;
    for (size_t i = 0; i < count; ++i) out[i] = src[i];
  }
}

}  // namespace zs
