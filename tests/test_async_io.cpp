// The NVMe offload I/O layer: AsyncFile round trips on both engines (io_uring and the pread/pwrite
// threads), concurrency, failures that must surface as errors, and TensorSwapStore.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/Context.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <random>
#include <vector>

#include "zs/io/async_file.hpp"
#include "zs/io/staging_buffers.hpp"
#include "zs/io/tensor_swap.hpp"

namespace test_async_io {

namespace fs = std::filesystem;
using zs::AsyncFile;
using zs::AsyncIo;
using zs::AsyncIoOptions;
using zs::IoEngineKind;
using zs::IoError;
using zs::IoHandle;

namespace {

// A fresh directory under /tmp, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/zs_async_io_XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// An aligned host buffer, freed at scope exit.
struct AlignedBuffer {
  char* data;
  explicit AlignedBuffer(std::size_t bytes) : data(static_cast<char*>(zs::allocate_aligned_host(bytes + 2 * zs::kIoAlignment))) {}
  ~AlignedBuffer() { std::free(data); }
};

void fill_pattern(char* p, std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(gen());
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

AsyncIoOptions options_for(IoEngineKind engine) {
  AsyncIoOptions o;
  o.engine = engine;
  o.chunk_bytes = 64 << 10;  // small chunks: every size below spans many
  o.queue_depth = 8;
  o.thread_count = 3;
  o.quiet = true;
  return o;
}

}  // namespace

class AsyncIoEngines : public ::testing::TestWithParam<IoEngineKind> {};

TEST_P(AsyncIoEngines, RoundTripsOfAlignedAndUnalignedSizesBuffersAndOffsets) {
  TempDir dir;
  auto io = AsyncIo::create(options_for(GetParam()));
  EXPECT_STREQ(io->engine_name(), GetParam() == IoEngineKind::threads ? "threads" : "io_uring");
  const std::size_t chunk = io->options().chunk_bytes;
  const std::vector<std::size_t> sizes = {1, 4095, 4096, 4097, chunk - 1, chunk, chunk + 1,
                                          3 * chunk + 123, (10u << 20) + 7};
  const std::vector<std::uint64_t> offsets = {0, 8192, 100};
  unsigned seed = 1;
  for (std::size_t size : sizes) {
    for (std::uint64_t offset : offsets) {
      for (std::size_t misalign : {0, 3}) {
        SCOPED_TRACE("size " + std::to_string(size) + " offset " + std::to_string(offset) + " misalign " +
                     std::to_string(misalign));
        AlignedBuffer out(size), in(size);
        fill_pattern(out.data + misalign, size, seed++);
        std::memset(in.data, 0, size + misalign);
        AsyncFile file(io, dir.path + "/round_trip.bin", AsyncFile::Mode::create);
        EXPECT_TRUE(file.direct());  // /tmp here is a disk filesystem that takes O_DIRECT
        IoHandle w = file.write(out.data + misalign, size, offset);
        EXPECT_EQ(w.bytes(), size);
        w.wait();
        EXPECT_TRUE(w.done());
        EXPECT_EQ(file.size(), offset + size);
        file.read(in.data + misalign, size, offset).wait();
        ASSERT_EQ(std::memcmp(out.data + misalign, in.data + misalign, size), 0);
      }
    }
  }
}

TEST_P(AsyncIoEngines, ManyConcurrentRequestsOverSeveralFiles) {
  TempDir dir;
  auto options = options_for(GetParam());
  options.queue_depth = 4;  // far fewer slots than chunks: most wait their turn
  auto io = AsyncIo::create(options);
  constexpr int kFiles = 3, kRequests = 48;
  constexpr std::size_t kBytes = (256 << 10) + 4096;  // 5 chunks each, the last one short
  std::vector<std::unique_ptr<AsyncFile>> files;
  for (int f = 0; f < kFiles; ++f)
    files.push_back(std::make_unique<AsyncFile>(io, dir.path + "/f" + std::to_string(f), AsyncFile::Mode::create));
  AlignedBuffer out(kFiles * kRequests * kBytes), in(kFiles * kRequests * kBytes);
  fill_pattern(out.data, kFiles * kRequests * kBytes, 7);

  std::vector<IoHandle> handles;
  for (int r = 0; r < kRequests; ++r)
    for (int f = 0; f < kFiles; ++f)
      handles.push_back(files[f]->write(out.data + (f * kRequests + r) * kBytes, kBytes, r * kBytes));
  for (auto& h : handles) h.wait();
  handles.clear();
  for (int r = kRequests - 1; r >= 0; --r)
    for (int f = 0; f < kFiles; ++f)
      handles.push_back(files[f]->read(in.data + (f * kRequests + r) * kBytes, kBytes, r * kBytes));
  for (auto& h : handles) h.wait();
  EXPECT_EQ(std::memcmp(out.data, in.data, kFiles * kRequests * kBytes), 0);
}

TEST_P(AsyncIoEngines, CompletionCallbackRunsBeforeWaitReturns) {
  TempDir dir;
  auto io = AsyncIo::create(options_for(GetParam()));
  AsyncFile file(io, dir.path + "/cb", AsyncFile::Mode::create);
  AlignedBuffer buf(1 << 20);
  fill_pattern(buf.data, 1 << 20, 3);
  std::atomic<int> calls{0};
  std::string seen = "unset";
  file.write(buf.data, 1 << 20, 0, [&](const std::string& error) { seen = error; ++calls; }).wait();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen, "");
  // A failing read reports its error to the callback too.
  std::string failure = message_of([&] {
    file.read(buf.data, 4096, 1 << 20, [&](const std::string& error) { seen = error; ++calls; }).wait();
  });
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(seen, failure);
}

TEST_P(AsyncIoEngines, ReadPastTheEndIsAnErrorNamingTheFile) {
  TempDir dir;
  auto io = AsyncIo::create(options_for(GetParam()));
  AsyncFile file(io, dir.path + "/short.bin", AsyncFile::Mode::create);
  AlignedBuffer buf(1 << 20);
  file.write(buf.data, 10000, 0).wait();
  const std::string msg = message_of([&] { file.read(buf.data, 1 << 20, 0).wait(); });
  EXPECT_NE(msg.find("read past the end"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.path + "/short.bin"), std::string::npos) << msg;
  // Reading exactly to the end still works.
  file.read(buf.data, 10000, 0).wait();
}

TEST_P(AsyncIoEngines, OpeningInAMissingDirectoryIsAnError) {
  auto io = AsyncIo::create(options_for(GetParam()));
  const std::string msg = message_of([&] { AsyncFile f(io, "/tmp/zs_no_such_dir_xyz/a.swp", AsyncFile::Mode::create); });
  EXPECT_NE(msg.find("/tmp/zs_no_such_dir_xyz/a.swp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
}

TEST_P(AsyncIoEngines, WritingAReadOnlyFileIsAnError) {
  TempDir dir;
  auto io = AsyncIo::create(options_for(GetParam()));
  AlignedBuffer buf(8192);
  { AsyncFile f(io, dir.path + "/ro", AsyncFile::Mode::create); f.write(buf.data, 8192, 0).wait(); }
  AsyncFile reader(io, dir.path + "/ro", AsyncFile::Mode::read);
  const std::string msg = message_of([&] { reader.write(buf.data, 8192, 0).wait(); });
  EXPECT_NE(msg.find("write of 8192 bytes at offset 0 to " + dir.path + "/ro"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Bad file descriptor"), std::string::npos) << msg;
}

// A full disk: a 1 MiB tmpfs (needs the right to mount; skipped without it).
TEST_P(AsyncIoEngines, AFullDeviceFailsTheWriteInsteadOfWritingPartOfIt) {
  TempDir dir;
  const std::string mnt = dir.path + "/small";
  fs::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) GTEST_SKIP() << "cannot mount a small tmpfs here";
  {
    auto io = AsyncIo::create(options_for(GetParam()));
    AsyncFile file(io, mnt + "/big", AsyncFile::Mode::create);
    AlignedBuffer buf(4 << 20);
    const std::string msg = message_of([&] { file.write(buf.data, 4 << 20, 0).wait(); });
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
    EXPECT_NE(msg.find(mnt + "/big"), std::string::npos) << msg;
    const std::string reserve = message_of([&] { file.preallocate(8 << 20); });
    EXPECT_NE(reserve.find("No space left on device"), std::string::npos) << reserve;
  }
  ::umount(mnt.c_str());
}

// A filesystem that refuses O_DIRECT (ramfs; needs the right to mount): buffered I/O, one note.
TEST_P(AsyncIoEngines, AFilesystemWithoutODirectFallsBackToBufferedIo) {
  TempDir dir;
  const std::string mnt = dir.path + "/ramfs";
  fs::create_directory(mnt);
  if (::mount("ramfs", mnt.c_str(), "ramfs", 0, nullptr) != 0) GTEST_SKIP() << "cannot mount a ramfs here";
  {
    auto options = options_for(GetParam());
    options.quiet = false;
    auto io = AsyncIo::create(options);
    ::testing::internal::CaptureStderr();
    AsyncFile first(io, mnt + "/a", AsyncFile::Mode::create);
    AsyncFile second(io, mnt + "/b", AsyncFile::Mode::create);
    const std::string notes = ::testing::internal::GetCapturedStderr();
    EXPECT_FALSE(first.direct());
    // The note comes once per process: this test run on the other engine has printed it already.
    EXPECT_LE(std::count(notes.begin(), notes.end(), '\n'), 1) << notes;
    if (!notes.empty()) EXPECT_NE(notes.find("refuses O_DIRECT"), std::string::npos) << notes;

    AlignedBuffer out(1 << 20), in(1 << 20);
    fill_pattern(out.data, 1 << 20, 5);
    first.write(out.data, 1 << 20, 0).wait();
    first.read(in.data, 1 << 20, 0).wait();
    EXPECT_EQ(std::memcmp(out.data, in.data, 1 << 20), 0);

    zs::TensorSwapOptions o;
    o.nvme_path = mnt;
    o.io = options_for(GetParam());
    zs::TensorSwapStore store(o);
    at::Tensor t = at::randn({12345}), back = at::empty({12345});
    store.swap_out("t", t).wait();
    store.swap_in("t", back).wait();
    EXPECT_TRUE(at::equal(t, back));
  }
  ::umount(mnt.c_str());
}

INSTANTIATE_TEST_SUITE_P(Engines, AsyncIoEngines, ::testing::Values(IoEngineKind::io_uring, IoEngineKind::threads),
                         [](const auto& info) { return info.param == IoEngineKind::threads ? "threads" : "io_uring"; });

TEST(AsyncIo, EnvironmentVariableChoosesTheEngine) {
  ::setenv("ZS_IO_ENGINE", "threads", 1);
  EXPECT_STREQ(AsyncIo::create(options_for(IoEngineKind::automatic))->engine_name(), "threads");
  ::setenv("ZS_IO_ENGINE", "uring", 1);
  EXPECT_STREQ(AsyncIo::create(options_for(IoEngineKind::automatic))->engine_name(), "io_uring");
  // An explicit option wins over the variable.
  EXPECT_STREQ(AsyncIo::create(options_for(IoEngineKind::threads))->engine_name(), "threads");
  ::setenv("ZS_IO_ENGINE", "fast", 1);
  EXPECT_NE(message_of([] { AsyncIo::create(options_for(IoEngineKind::automatic)); }).find("ZS_IO_ENGINE=fast"),
            std::string::npos);
  ::unsetenv("ZS_IO_ENGINE");
  EXPECT_NE(message_of([] {
              auto o = options_for(IoEngineKind::threads);
              o.chunk_bytes = 1000;
              AsyncIo::create(o);
            }).find("multiple of 4096"),
            std::string::npos);
}

// io_uring refusing to start (a sandbox, kernel.io_uring_disabled, or here: a ring larger than the
// kernel allows) leaves the automatic choice on the threads engine, with a note saying so.
TEST(AsyncIo, AutomaticChoiceFallsBackToThreadsWhenIoUringCannotStart) {
  auto o = options_for(IoEngineKind::automatic);
  o.queue_depth = 1 << 20;  // beyond io_uring's 32768 entries
  o.quiet = false;
  ::testing::internal::CaptureStderr();
  auto io = AsyncIo::create(o);
  const std::string note = ::testing::internal::GetCapturedStderr();
  EXPECT_STREQ(io->engine_name(), "threads");
  EXPECT_NE(note.find("io_uring is not available"), std::string::npos) << note;
  EXPECT_NE(note.find("pread/pwrite threads"), std::string::npos) << note;
  o.engine = IoEngineKind::io_uring;  // asked for by name: an error instead
  EXPECT_NE(message_of([&] { AsyncIo::create(o); }).find("io_uring is not available"), std::string::npos);
}

TEST(AsyncIo, BufferedModeRoundTrips) {
  TempDir dir;
  auto o = options_for(IoEngineKind::io_uring);
  o.direct = false;
  auto io = AsyncIo::create(o);
  AsyncFile file(io, dir.path + "/buffered", AsyncFile::Mode::create);
  EXPECT_FALSE(file.direct());
  AlignedBuffer out(300000), in(300000);
  fill_pattern(out.data, 300000, 11);
  file.write(out.data, 300000, 4096).wait();
  file.read(in.data, 300000, 4096).wait();
  EXPECT_EQ(std::memcmp(out.data, in.data, 300000), 0);
}

// ---- TensorSwapStore ---------------------------------------------------------------------------------

namespace {

zs::TensorSwapOptions store_options(const std::string& path, IoEngineKind engine) {
  zs::TensorSwapOptions o;
  o.nvme_path = path;
  o.rank = 3;
  o.buffer_count = 2;
  o.buffer_bytes = 64 << 10;  // tensors below span several staging buffers
  o.reserve_bytes = 1 << 20;
  o.io = options_for(engine);
  return o;
}

std::size_t count_files(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

class SwapStoreEngines : public ::testing::TestWithParam<IoEngineKind> {};

TEST_P(SwapStoreEngines, SwapsOutAndInStagedAndAlignedTensorsThenCleansUp) {
  TempDir dir;
  std::string store_dir;
  {
    zs::TensorSwapStore store(store_options(dir.path, GetParam()));
    store_dir = store.directory();
    EXPECT_EQ(store_dir, dir.path + "/zeroshard_rank3_pid" + std::to_string(::getpid()));
    EXPECT_STREQ(store.engine_name(), GetParam() == IoEngineKind::threads ? "threads" : "io_uring");

    // Unaligned (staged, a slice one element in), aligned (in place), several dtypes and sizes.
    std::vector<std::pair<std::string, at::Tensor>> originals;
    for (std::int64_t numel : {1, 1000, 16384, 100003}) {
      at::Tensor base = at::randn({numel + 1});
      originals.emplace_back("staged/" + std::to_string(numel), base.narrow(0, 1, numel));
      at::Tensor aligned = zs::make_aligned_host_tensor(numel, at::kFloat);
      aligned.copy_(at::randn({numel}));
      originals.emplace_back("aligned/" + std::to_string(numel), aligned);
    }
    originals.emplace_back("bf16", at::randn({54321}).to(at::kBFloat16));
    originals.emplace_back("int64", at::arange(77777, at::kLong));

    std::vector<at::Tensor> copies;
    std::vector<zs::SwapHandle> outs;
    for (auto& [key, t] : originals) {
      copies.push_back(t.clone());
      outs.push_back(store.swap_out(key, t));
    }
    for (auto& h : outs) h.wait();
    EXPECT_EQ(count_files(store_dir), originals.size());
    for (auto& [key, t] : originals) t.zero_();  // the store holds the only copy now

    std::vector<zs::SwapHandle> ins;
    for (auto& [key, t] : originals) ins.push_back(store.swap_in(key, t));
    for (auto& h : ins) h.wait();
    for (std::size_t i = 0; i < originals.size(); ++i)
      EXPECT_TRUE(at::equal(originals[i].second, copies[i])) << originals[i].first;

    // Swapping a key out again with another size replaces its file.
    at::Tensor bigger = at::randn({200000});
    store.swap_out("staged/1", bigger).wait();
    at::Tensor back = at::empty({200000});
    store.swap_in("staged/1", back).wait();
    EXPECT_TRUE(at::equal(back, bigger));
    EXPECT_EQ(count_files(store_dir), originals.size());

    store.remove("int64");
    EXPECT_FALSE(store.contains("int64"));
    EXPECT_EQ(count_files(store_dir), originals.size() - 1);
  }
  EXPECT_FALSE(fs::exists(store_dir)) << "the store's directory outlived it";
}

TEST_P(SwapStoreEngines, AnOperationOnAKeyWaitsForTheKeysPreviousOne) {
  TempDir dir;
  zs::TensorSwapStore store(store_options(dir.path, GetParam()));
  at::Tensor a = zs::make_aligned_host_tensor(1 << 20, at::kFloat);
  a.copy_(at::randn({1 << 20}));
  at::Tensor expected = a.clone();
  zs::SwapHandle out = store.swap_out("k", a);  // not waited for
  at::Tensor b = at::empty({1 << 20});
  store.swap_in("k", b).wait();
  EXPECT_TRUE(out.done());
  EXPECT_TRUE(at::equal(b, expected));
}

INSTANTIATE_TEST_SUITE_P(Engines, SwapStoreEngines, ::testing::Values(IoEngineKind::io_uring, IoEngineKind::threads),
                         [](const auto& info) { return info.param == IoEngineKind::threads ? "threads" : "io_uring"; });

// A crashed run's directory (its process is gone) is removed; a live process's is not touched,
// even with the same rank: two jobs may share an nvme_path.
TEST(SwapStore, RemovesStaleFilesOfADeadRunOnly) {
  TempDir dir;
  const std::string dead = dir.path + "/zeroshard_rank3_pid999999999";   // above any pid_max
  const std::string live = dir.path + "/zeroshard_rank3_pid1";           // init: always running
  fs::create_directory(dead);
  fs::create_directory(live);
  { std::ofstream(dead + "/9_old.swp") << "stale"; }
  { std::ofstream(live + "/9_in_use.swp") << "another job's"; }
  zs::TensorSwapStore store(store_options(dir.path, IoEngineKind::threads));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live + "/9_in_use.swp"));
}

TEST(SwapStore, CreationErrorsAreClear) {
  TempDir dir;
  auto missing = store_options(dir.path + "/nope", IoEngineKind::threads);
  std::string msg = message_of([&] { zs::TensorSwapStore s(missing); });
  EXPECT_NE(msg.find("nvme_path " + dir.path + "/nope cannot be used: No such file or directory"), std::string::npos) << msg;

  auto too_big = store_options(dir.path, IoEngineKind::threads);
  too_big.reserve_bytes = std::uint64_t(1) << 60;
  msg = message_of([&] { zs::TensorSwapStore s(too_big); });
  EXPECT_NE(msg.find("offload files need"), std::string::npos) << msg;
  EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.path + "/zeroshard_rank3_pid" + std::to_string(::getpid())))
      << "a store that failed to start left its directory";

  // A directory this process may not write to: a 0555 folder, or for root (who ignores modes) /sys.
  std::string read_only = dir.path + "/ro";
  fs::create_directory(read_only);
  ::chmod(read_only.c_str(), 0555);
  if (::geteuid() == 0) read_only = "/sys";
  msg = message_of([&] { zs::TensorSwapStore s(store_options(read_only, IoEngineKind::threads)); });
  EXPECT_NE(msg.find("cannot create the offload directory " + read_only + "/zeroshard_rank3_pid"), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("Permission denied") != std::string::npos || msg.find("Operation not permitted") != std::string::npos)
      << msg;
}

TEST(SwapStore, MisuseIsReported) {
  TempDir dir;
  zs::TensorSwapStore store(store_options(dir.path, IoEngineKind::io_uring));
  at::Tensor t = at::randn({100});
  EXPECT_NE(message_of([&] { store.swap_in("never", t); }).find("never swapped out"), std::string::npos);
  store.swap_out("k", t).wait();
  at::Tensor wrong = at::empty({99});
  EXPECT_NE(message_of([&] { store.swap_in("k", wrong); }).find("it holds 400 bytes"), std::string::npos);
  at::Tensor strided = at::randn({10, 20}).t();
  EXPECT_NE(message_of([&] { store.swap_out("s", strided); }).find("contiguous CPU tensor"), std::string::npos);
}

TEST(StagingBufferPool, BuffersAreAlignedAndAcquireWaitsForARelease) {
  zs::StagingBufferPool pool(2, 5000, /*pin_memory=*/true);  // pinned only where a GPU is
  EXPECT_EQ(pool.buffer_bytes(), 8192u);
  EXPECT_EQ(pool.pinned(), at::hasCUDA());
  char* a = pool.acquire();
  char* b = pool.acquire();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % zs::kIoAlignment, 0u);
  EXPECT_NE(a, b);
  std::atomic<bool> got{false};
  std::thread t([&] {
    char* c = pool.acquire();
    got = true;
    pool.release(c);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.load());
  pool.release(a);
  t.join();
  EXPECT_TRUE(got.load());
  pool.release(b);
}

}  // namespace test_async_io
