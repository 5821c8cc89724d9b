#include "zs/data/nanogpt_meta.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <variant>

namespace zs {

namespace {

constexpr size_t kMaxMetaBytes = 16 << 20;

// Values live in one arena and refer to each other by index: a pickle can put a dict inside
// itself (through the memo), which shared ownership would never free.
using Ref = size_t;
using Dict = std::vector<std::pair<Ref, Ref>>;
struct Mark {};
// What a meta.pkl can hold: ints, strings, dicts of them (and True/False/None as values).
struct Value {
  std::variant<int64_t, std::string, Dict, Mark, std::monostate, bool> v;
};

class MetaUnpickler {
 public:
  MetaUnpickler(const std::string& bytes, std::string source) : b_(bytes), source_(std::move(source)) {}

  const Value& at(Ref r) const { return arena_[r]; }

  Ref run() {
    while (true) {
      const size_t at = i_;
      const unsigned char op = byte();
      switch (op) {
        case 0x80: byte(); break;                                   // PROTO
        case 0x95: take(8); break;                                  // FRAME (length, unused)
        case '}': push(Value{Dict{}}); break;                       // EMPTY_DICT
        case '(': push(Value{Mark{}}); break;                       // MARK
        case 'N': push(Value{std::monostate{}}); break;             // NONE
        case 0x88: push(Value{true}); break;                        // NEWTRUE
        case 0x89: push(Value{false}); break;                       // NEWFALSE
        case 'K': push(Value{int64_t(byte())}); break;              // BININT1
        case 'M': push(Value{int64_t(le(2, false))}); break;        // BININT2
        case 'J': push(Value{int64_t(le(4, true))}); break;         // BININT
        case 0x8a: {                                                // LONG1
          const size_t n = byte();
          if (n > 8) fail(at, "an int wider than 64 bits");
          push(Value{n == 0 ? int64_t(0) : le(n, true)});
          break;
        }
        case 0x8c: push(Value{take(byte())}); break;                // SHORT_BINUNICODE
        case 'X': push(Value{take(size_t(le(4, false)))}); break;   // BINUNICODE
        case 0x94: memo_[int64_t(memo_.size())] = top(at); break;   // MEMOIZE
        case 'q': memo_[le(1, false)] = top(at); break;             // BINPUT
        case 'r': memo_[le(4, false)] = top(at); break;             // LONG_BINPUT
        case 'h': push_ref(memo_at(le(1, false), at)); break;       // BINGET
        case 'j': push_ref(memo_at(le(4, false), at)); break;       // LONG_BINGET
        case 's': {                                                 // SETITEM
          Ref value = pop(at), key = pop(at);
          dict_of(top(at), at).emplace_back(key, value);
          break;
        }
        case 'u': {                                                 // SETITEMS
          std::vector<Ref> items;
          while (true) {
            Ref r = pop(at);
            if (std::holds_alternative<Mark>(arena_[r].v)) break;
            items.push_back(r);
          }
          if (items.size() % 2 != 0) fail(at, "an odd number of items for a dict");
          Dict& d = dict_of(top(at), at);
          for (size_t k = items.size(); k >= 2; k -= 2) d.emplace_back(items[k - 1], items[k - 2]);
          break;
        }
        case '.':                                                   // STOP
          if (stack_.size() != 1) fail(at, "a malformed pickle");
          return stack_.back();
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          fail(at, std::string("pickle opcode ") + buf + ", which nanoGPT's meta.pkl (a dict of ints and strings) does not use");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw std::runtime_error(source_ + ": byte " + std::to_string(at) + ": " + what +
                             "; pass the vocabulary size as --vocab_size instead");
  }
  unsigned char byte() {
    if (i_ >= b_.size()) fail(i_, "the pickle ends early");
    return static_cast<unsigned char>(b_[i_++]);
  }
  std::string take(size_t n) {
    if (n > b_.size() - i_) fail(i_, "the pickle ends early");
    std::string s = b_.substr(i_, n);
    i_ += n;
    return s;
  }
  int64_t le(size_t n, bool is_signed) {
    const std::string s = take(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(static_cast<unsigned char>(s[k])) << (8 * k);
    if (is_signed && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
    return int64_t(v);
  }
  void push(Value v) {
    arena_.push_back(std::move(v));
    push_ref(arena_.size() - 1);
  }
  void push_ref(Ref r) {
    if (stack_.size() > (1 << 20)) fail(i_, "a stack too deep for a meta.pkl");
    stack_.push_back(r);
  }
  Ref pop(size_t at) {
    if (stack_.empty()) fail(at, "a malformed pickle (empty stack)");
    Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref top(size_t at) const {
    if (stack_.empty()) fail(at, "a malformed pickle (empty stack)");
    return stack_.back();
  }
  Ref memo_at(int64_t key, size_t at) const {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail(at, "a malformed pickle (unknown memo entry)");
    return it->second;
  }
  Dict& dict_of(Ref r, size_t at) {
    if (!std::holds_alternative<Dict>(arena_[r].v)) fail(at, "a malformed pickle (items set on something not a dict)");
    return std::get<Dict>(arena_[r].v);
  }

  const std::string& b_;
  std::string source_;
  size_t i_ = 0;
  std::vector<Value> arena_;
  std::vector<Ref> stack_;
  std::map<int64_t, Ref> memo_;
};

// The value of `key` in `d` (the last one when repeated), or nullptr.
const Value* find_key(const MetaUnpickler& p, const Dict& d, const std::string& key) {
  const Value* found = nullptr;
  for (const auto& [k, v] : d)
    if (std::holds_alternative<std::string>(p.at(k).v) && std::get<std::string>(p.at(k).v) == key) found = &p.at(v);
  return found;
}

}  // namespace

NanoGptMeta parse_nanogpt_meta(const std::string& bytes, const std::string& source) {
  MetaUnpickler p(bytes, source);
  const Value& root = p.at(p.run());
  if (!std::holds_alternative<Dict>(root.v)) throw std::runtime_error(source + " does not hold a dict");
  const Dict& d = std::get<Dict>(root.v);
  const Value* vocab = find_key(p, d, "vocab_size");
  if (!vocab || !std::holds_alternative<int64_t>(vocab->v))
    throw std::runtime_error(source + " has no int vocab_size; pass the vocabulary size as --vocab_size");
  NanoGptMeta meta;
  meta.vocab_size = std::get<int64_t>(vocab->v);
  if (meta.vocab_size <= 0) throw std::runtime_error(source + ": vocab_size " + std::to_string(meta.vocab_size) + " is not positive");
  const Value* itos = find_key(p, d, "itos");
  if (itos && std::holds_alternative<Dict>(itos->v)) {
    const Dict& table = std::get<Dict>(itos->v);
    std::vector<std::string> out(size_t(std::min<int64_t>(meta.vocab_size, 1 << 20)));
    std::vector<bool> seen(out.size(), false);
    for (const auto& [k, v] : table) {
      const Value &key = p.at(k), &value = p.at(v);
      if (!std::holds_alternative<int64_t>(key.v) || !std::holds_alternative<std::string>(value.v)) return meta;
      const int64_t id = std::get<int64_t>(key.v);
      if (id < 0 || id >= int64_t(out.size())) return meta;
      out[size_t(id)] = std::get<std::string>(value.v);
      seen[size_t(id)] = true;
    }
    for (bool s : seen)
      if (!s) return meta;   // an incomplete table: the size alone is still right
    meta.itos = std::move(out);
  }
  return meta;
}

NanoGptMeta read_nanogpt_meta(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw std::runtime_error("cannot read " + path);
  if (size_t(st.st_size) > kMaxMetaBytes) throw std::runtime_error(path + " is too large for a nanoGPT meta.pkl");
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_nanogpt_meta(buffer.str(), path);
}

}  // namespace zs
