#include "zs/data/token_folder.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace zs {

namespace {

template <class T>
void write_tokens(const std::string& path, const std::vector<uint32_t>& ids) {
  std::vector<T> narrow(ids.begin(), ids.end());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(narrow.data()), std::streamsize(narrow.size() * sizeof(T)));
  if (!out) throw std::runtime_error("cannot write token file '" + path + "'");
}

}  // namespace

int token_bytes_for(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

std::optional<TokenFolderMeta> read_token_meta(const std::string& folder) {
  const std::string path = folder + "/" + kTokenMetaFile;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  auto bad = [&](const std::string& why) { return std::runtime_error("token folder metadata '" + path + "': " + why); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw bad(std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) throw bad("not a JSON object");
  TokenFolderMeta meta;
  if (j.contains("dtype")) {
    if (!j["dtype"].is_string()) throw bad("\"dtype\" is not a string");
    const std::string dtype = j["dtype"];
    if (dtype == "uint16") meta.token_bytes = 2;
    else if (dtype == "uint32") meta.token_bytes = 4;
    else throw bad("dtype \"" + dtype + "\" is neither \"uint16\" nor \"uint32\"");
  }
  if (j.contains("vocab_size")) {
    if (!j["vocab_size"].is_number_integer() || j["vocab_size"].get<int64_t>() <= 0) throw bad("\"vocab_size\" is not a positive integer");
    meta.vocab_size = j["vocab_size"];
    if (meta.token_bytes == 2 && meta.vocab_size > 65536)
      throw bad("vocab_size " + std::to_string(meta.vocab_size) + " does not fit uint16 tokens (use \"dtype\": \"uint32\")");
  }
  if (j.contains("tokenizer") && j["tokenizer"].is_string()) meta.tokenizer = j["tokenizer"];
  return meta;
}

void write_token_folder(const std::string& folder, const std::vector<uint32_t>& train, const std::vector<uint32_t>& val,
                        int64_t vocab_size, const std::string& tokenizer) {
  if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create token folder '" + folder + "': " + std::strerror(errno));
  for (const auto* ids : {&train, &val})
    for (uint32_t id : *ids)
      if (int64_t(id) >= vocab_size)
        throw std::invalid_argument("token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_size));
  const int width = token_bytes_for(vocab_size);
  for (const auto& [name, ids] : {std::pair<const char*, const std::vector<uint32_t>*>{"train.bin", &train}, {"val.bin", &val}}) {
    if (width == 2) write_tokens<uint16_t>(folder + "/" + name, *ids);
    else write_tokens<uint32_t>(folder + "/" + name, *ids);
  }
  const nlohmann::json meta = {{"dtype", width == 2 ? "uint16" : "uint32"}, {"vocab_size", vocab_size}, {"tokenizer", tokenizer}};
  std::ofstream(folder + "/" + kTokenMetaFile) << meta.dump(2) << "\n";
}

}  // namespace zs
