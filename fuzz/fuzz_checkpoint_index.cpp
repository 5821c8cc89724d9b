// libFuzzer target: the checkpoint index reader (index.json) on arbitrary bytes. The reader must
// return an index or throw CheckpointError; any other exception, a crash, a hang, a leak or
// undefined behaviour is a finding. An index it accepts must survive writing and reading back
// unchanged (what resume and the checkpoint tools rely on).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "zs/ckpt/checkpoint_index.hpp"
#include "zs/ckpt/file_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const zs::CheckpointIndex index = zs::parse_checkpoint_index(text, "fuzz/index.json");
    const nlohmann::json written = index.to_json();
    const zs::CheckpointIndex again = zs::parse_checkpoint_index(written.dump(), "fuzz/index.json (rewritten)");
    if (again.to_json() != written) {
      std::fprintf(stderr, "an accepted index changed when written and read back:\n%s\n%s\n", written.dump().c_str(),
                   again.to_json().dump().c_str());
      std::abort();
    }
  } catch (const zs::CheckpointError&) {
    // The expected outcome for a damaged index.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "the index reader threw something other than CheckpointError: %s\n", e.what());
    std::abort();
  }
  return 0;
}
