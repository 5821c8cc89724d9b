#pragma once
// The few file-system queries the image datasets make, with POSIX calls: std::filesystem clashes
// with symbols LibTorch's pip build exports on some machines (the GPU machines' newer g++).
#include <cstdint>
#include <string>
#include <vector>

namespace zs {

bool is_folder(const std::string& path);       // follows symbolic links
bool is_plain_file(const std::string& path);   // follows symbolic links
int64_t size_of_file(const std::string& path); // -1 when missing
// Names in `folder` (without "." and ".."), sorted. Throws std::runtime_error naming the folder.
std::vector<std::string> list_folder(const std::string& folder);
std::string path_join(const std::string& a, const std::string& b);

}  // namespace zs
