#include "zs/zero/state/nvme_state_store.hpp"

#include <algorithm>
#include <cstdio>

#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>

#include "zs/io/tensor_swap.hpp"
#include "zs/zero/state/gradient_ring.hpp"

namespace zs {

namespace {

// Records are padded to whole O_DIRECT blocks (1024 fp32 values), so every transfer goes direct.
constexpr int64_t kRecordAlignElements = int64_t(kIoAlignment / sizeof(float));

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GB", bytes / 1e9);
  return text;
}

}  // namespace

NvmeStateStore::NvmeStateStore(std::unique_ptr<HostOptimizer> optimizer, c10::Device device, const OffloadConfig& config,
                               int rank)
    : OffloadedStateStore(std::move(optimizer), device, int(std::max<int64_t>(1, config.buffer_count)),
                          offload_piece_elements()),
      config_(config),
      rank_(rank),
      state_keys_(optimizer_->state_keys()) {
  TORCH_CHECK(config.device == "nvme", "NvmeStateStore: offload_optimizer.device is \"", config.device, "\"");
  TORCH_CHECK(!config.fast_init, "zero_optimization.offload_optimizer.fast_init is not available: the initial ",
              "optimizer state is always written to nvme_path at startup; remove fast_init");
}

NvmeStateStore::~NvmeStateStore() { stop_background(); }

void NvmeStateStore::attach(OwnedSlot& slot, int index, double weight_decay) {
  TORCH_CHECK(!store_, "NvmeStateStore: a slot attached after the files were written");
  remember(index, optimizer_->add_external_slot(slot.own.numel(), weight_decay));
}

int64_t NvmeStateStore::record_elements(int64_t numel) const {
  const int64_t n = int64_t(1 + state_keys_.size()) * numel;
  return (n + kRecordAlignElements - 1) / kRecordAlignElements * kRecordAlignElements;
}

at::Tensor NvmeStateStore::record(int buffer, const Piece& piece) const {
  return ring_[buffer].narrow(0, 0, record_elements(piece.numel));
}

at::Tensor NvmeStateStore::part(const at::Tensor& record, const Piece& piece, int index) const {
  return record.narrow(0, int64_t(index) * piece.numel, piece.numel);
}

int NvmeStateStore::part_index(const std::string& key) const {
  if (key == "master") return 0;
  std::string known = "master";
  for (size_t i = 0; i < state_keys_.size(); ++i) {
    if (state_keys_[i] == key) return int(i) + 1;
    known += ", " + state_keys_[i];
  }
  TORCH_CHECK(false, "NVMe optimizer offload: no state \"", key, "\" (the offload files hold ", known, ")");
}

void NvmeStateStore::attached(const std::vector<OwnedSlot>& slots, const SlotAccess& access) {
  c10::NoGradGuard no_grad;
  TORCH_CHECK(!store_, "NvmeStateStore::attached called twice");
  int64_t largest = 0;
  uint64_t total_bytes = 0;
  slot_pieces_.assign(slots.size(), {});
  for (int i : attached_) {
    const int64_t numel = slots[size_t(i)].own.numel();
    for (int64_t b = 0; b < numel; b += piece_elements_) {
      const Piece piece{i, b, std::min(piece_elements_, numel - b)};
      slot_pieces_[size_t(i)].push_back(pieces_.size());
      pieces_.push_back(piece);
      piece_slots_.push_back(i);
      largest = std::max(largest, record_elements(piece.numel));
      total_bytes += uint64_t(record_elements(piece.numel)) * sizeof(float);
    }
  }

  TensorSwapOptions options;
  options.nvme_path = config_.nvme_path;
  options.rank = rank_;
  options.reserve_bytes = total_bytes;  // free space for every record, checked now
  // Records are aligned and go straight to the files: the store's staging pool stays minimal.
  options.buffer_count = 1;
  options.buffer_bytes = kIoAlignment;
  try {
    store_ = std::make_unique<TensorSwapStore>(options);
  } catch (const std::exception& e) {
    throw IoError(std::string("zero_optimization.offload_optimizer (device \"nvme\"): ") + e.what());
  }
  for (int b = 0; b < buffers_; ++b) ring_.push_back(make_aligned_host_tensor(largest, at::kFloat));

  // The initial records: master = the slot's values in fp32, state zero. Writes overlap the
  // filling of the next buffers; a buffer is reused once its write finished.
  std::vector<SwapHandle> writes(buffers_);
  for (size_t k = 0; k < pieces_.size(); ++k) {
    const int b = int(k % buffers_);
    const Piece& p = pieces_[k];
    writes[b].wait();
    at::Tensor rec = record(b, p);
    rec.zero_();
    access.before(piece_slots_, k);
    part(rec, p, 0).copy_(slots[size_t(p.slot)].own.narrow(0, p.begin, p.numel));
    access.after(piece_slots_, k);
    writes[b] = store_->swap_out(key(k), rec);
  }
  for (const SwapHandle& w : writes) w.wait();
}

void NvmeStateStore::update(const Batch& batch, const SlotAccess& access, const std::function<void(int)>& slot_done) {
  const std::vector<OwnedSlot>& slots = *slots_;
  flush();
  cached_piece_ = -1;  // the step rewrites the records and reuses ring buffer 0
  // The batch's pieces, slot by slot in its order.
  std::vector<size_t> todo, todo_grads;  // piece; its slot's position in the batch
  std::vector<int> todo_slots;
  for (size_t j = 0; j < batch.order.size(); ++j) {
    const int i = batch.order[j];
    if (slot_pieces_.at(size_t(i)).empty() && slot_done) slot_done(i);  // nothing to update: ready now
    for (size_t piece : slot_pieces_[size_t(i)]) {
      todo.push_back(piece);
      todo_grads.push_back(j);
      todo_slots.push_back(i);
    }
  }
  const size_t n = todo.size();
  const size_t buffers = size_t(buffers_);
  // Ring buffers: one being updated, one being written back (pipeline_write), the rest read ahead.
  const size_t busy = config_.pipeline_write ? 2 : 1;
  const size_t reads_ahead = config_.pipeline_read && buffers > busy ? buffers - busy : 0;

  std::vector<SwapHandle> reads(buffers), writes(buffers);
  size_t next_read = 0;
  auto issue_read = [&](size_t j) {
    const int b = int(j % buffers);
    writes[b].wait();  // the buffer's previous piece is on its way to the file
    reads[b] = store_->swap_in(key(todo[j]), record(b, pieces_[todo[j]]));
    if (!config_.pipeline_read) reads[b].wait();
  };
  try {
    GradientRing ring(*transfer_, buffers_, n, [&](size_t k) {
      const Piece& p = pieces_[todo[k]];
      return batch.grads[todo_grads[k]].narrow(0, p.begin, p.numel);
    });
    for (size_t k = 0; k < n; ++k) {
      for (; next_read < n && next_read <= k + reads_ahead; ++next_read) issue_read(next_read);
      const at::Tensor& host_grad = ring.take(k);
      const int b = int(k % buffers);
      const Piece& p = pieces_[todo[k]];
      const OwnedSlot& slot = slots[size_t(p.slot)];
      const int number = this->number(p.slot);
      reads[b].wait();
      const at::Tensor rec = record(b, p);
      const at::Tensor master = part(rec, p, 0);
      std::vector<at::Tensor> state;
      for (size_t s = 0; s < state_keys_.size(); ++s) state.push_back(part(rec, p, int(s) + 1));
      access.before(todo_slots, k);
      const at::Tensor dst = slot.own.narrow(0, p.begin, p.numel);
      const at::Tensor out = transfer_->param_buffer(b, dst);
      if (dst.scalar_type() == at::kFloat) {
        // fp32 parameters: the master goes back; it is copied out first, since the record's
        // buffer is reused before the step's sends are over.
        optimizer_->step_piece(number, master, state, host_grad, lr_, divisor_, at::Tensor());
        out.copy_(master);
      } else {
        optimizer_->step_piece(number, master, state, host_grad, lr_, divisor_, out);
      }
      transfer_->send(b, out, dst);
      access.after(todo_slots, k);
      ring.release(k);
      writes[b] = store_->swap_out(key(todo[k]), rec);
      if (!config_.pipeline_write) writes[b].wait();
      if (slot_done && (k + 1 == n || todo_slots[k + 1] != p.slot)) slot_done(p.slot);
    }
  } catch (...) {
    // The ring buffers must not be touched again while transfers into or out of them run.
    for (const SwapHandle& r : reads) (void)r.wait_for_error();
    for (const SwapHandle& w : writes) (void)w.wait_for_error();
    throw;
  }
  for (const SwapHandle& r : reads) r.wait();
  for (const SwapHandle& w : writes) w.wait();
}

void NvmeStateStore::copy_masters(const std::vector<OwnedSlot>& slots, const SlotAccess& access) {
  c10::NoGradGuard no_grad;
  flush();
  cached_piece_ = -1;
  const size_t n = pieces_.size(), buffers = size_t(buffers_);
  std::vector<SwapHandle> reads(buffers);
  size_t next_read = 0;
  try {
    for (size_t k = 0; k < n; ++k) {
      // Reads run ahead into the other buffers while this piece is copied.
      for (; next_read < n && next_read < k + buffers; ++next_read)
        reads[next_read % buffers] = store_->swap_in(key(next_read), record(int(next_read % buffers), pieces_[next_read]));
      const int b = int(k % buffers);
      const Piece& p = pieces_[k];
      reads[b].wait();
      access.before(piece_slots_, k);
      slots[size_t(p.slot)].own.narrow(0, p.begin, p.numel).copy_(part(record(b, p), p, 0));
      access.after(piece_slots_, k);
    }
  } catch (...) {
    for (const SwapHandle& r : reads) (void)r.wait_for_error();
    throw;
  }
}

at::Tensor NvmeStateStore::cached(size_t piece) {
  const at::Tensor rec = record(0, pieces_[piece]);
  if (cached_piece_ != int64_t(piece)) {
    flush();
    cached_piece_ = -1;
    store_->swap_in(key(piece), rec).wait();
    cached_piece_ = int64_t(piece);
  }
  return rec;
}

at::Tensor NvmeStateStore::read(int slot, const std::string& key, int64_t begin, int64_t numel) {
  const int index = part_index(key);
  at::Tensor out = at::empty({numel}, at::TensorOptions().dtype(at::kFloat));
  for (size_t k : slot_pieces_.at(slot)) {
    const Piece& p = pieces_[k];
    const int64_t lo = std::max(begin, p.begin), hi = std::min(begin + numel, p.begin + p.numel);
    if (lo >= hi) continue;
    out.narrow(0, lo - begin, hi - lo).copy_(part(cached(k), p, index).narrow(0, lo - p.begin, hi - lo));
  }
  return out;
}

void NvmeStateStore::write(int slot, const std::string& key, int64_t begin, const at::Tensor& values) {
  const int index = part_index(key);
  const at::Tensor flat = values.reshape({-1});
  const int64_t numel = flat.numel();
  for (size_t k : slot_pieces_.at(slot)) {
    const Piece& p = pieces_[k];
    const int64_t lo = std::max(begin, p.begin), hi = std::min(begin + numel, p.begin + p.numel);
    if (lo >= hi) continue;
    part(cached(k), p, index).narrow(0, lo - p.begin, hi - lo).copy_(flat.narrow(0, lo - begin, hi - lo));
    cached_dirty_ = true;
  }
}

void NvmeStateStore::flush() {
  if (cached_piece_ < 0 || !cached_dirty_) return;
  store_->swap_out(key(size_t(cached_piece_)), record(0, pieces_[size_t(cached_piece_)])).wait();
  cached_dirty_ = false;
}

SlotStateRange NvmeStateStore::state(const OwnedSlot& slot, int index, int64_t begin, int64_t numel) {
  SlotStateRange range;
  range.keys = state_keys_;
  range.read = [this, index, begin, numel](const std::string& key) { return read(index, key, begin, numel); };
  range.write = [this, index, begin](const std::string& key, int64_t offset, const at::Tensor& values) {
    write(index, key, begin + offset, values);
  };
  return range;
}

std::string NvmeStateStore::describe() const {
  const int64_t ring_elements = ring_.empty() ? 0 : ring_[0].numel();
  std::string text = "optimizer state offloaded to nvme (" + (store_ ? store_->directory() : config_.nvme_path) + ", " +
                     (store_ ? store_->engine_name() : "not started") + ", " +
                     gigabytes(double(store_ ? store_->stored_bytes() : 0)) + " in files) | " + optimizer_->describe() +
                     " | " + std::to_string(buffers_) + " piece buffer(s) of " + std::to_string(ring_elements) +
                     " fp32 values, pieces of " + std::to_string(piece_elements_) + " elements, pipeline read " +
                     (config_.pipeline_read ? "on" : "off") + ", write " + (config_.pipeline_write ? "on" : "off");
  return text;
}

}  // namespace zs
