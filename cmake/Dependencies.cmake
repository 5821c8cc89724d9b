# Third-party dependencies: LibTorch, MPI, nlohmann-json, CLI11, GoogleTest, and (GPU) CUDA + NCCL.
# Every dependency becomes one imported/interface target; layers link the ones they need.

# --- LibTorch -------------------------------------------------------------------------------------
if(NOT ZS_TORCH_ROOT)
  message(FATAL_ERROR "ZS_TORCH_ROOT is not set: run scripts/setup.sh, or pass -DZS_TORCH_ROOT=<torch dir>")
endif()
if(NOT EXISTS "${ZS_TORCH_ROOT}/include/ATen/ATen.h")
  message(FATAL_ERROR "ZS_TORCH_ROOT=${ZS_TORCH_ROOT} holds no LibTorch headers (include/ATen/ATen.h)")
endif()

# Decide on the GPU path. AUTO wants a driver on this machine: the CPU dev machines have the CUDA
# toolkit (it compiles and links) but no runtime libraries for LibTorch's CUDA half.
set(ZS_WITH_CUDA OFF)
if(ZS_CUDA STREQUAL "ON")
  set(ZS_WITH_CUDA ON)
elseif(ZS_CUDA STREQUAL "AUTO")
  if(EXISTS "/proc/driver/nvidia/version" AND EXISTS "${ZS_TORCH_ROOT}/lib/libtorch_cuda.so")
    set(ZS_WITH_CUDA ON)
  endif()
endif()

if(ZS_WITH_CUDA)
  # LibTorch's own CMake config brings CUDA, cuDNN and the sm_90a flags with it.
  list(APPEND CMAKE_PREFIX_PATH "${ZS_TORCH_ROOT}/share/cmake")
  find_package(Torch REQUIRED)
  add_library(zs_torch INTERFACE)
  target_link_libraries(zs_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_definitions(zs_torch INTERFACE ZS_WITH_CUDA=1)

  # NCCL: the copy next to LibTorch (pip's nvidia-nccl) first, so one libnccl is loaded.
  get_filename_component(_site "${ZS_TORCH_ROOT}" DIRECTORY)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS "${_site}/nvidia/nccl/include" ENV NCCL_HOME PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS "${_site}/nvidia/nccl/lib" ENV NCCL_HOME PATH_SUFFIXES lib lib64)
  if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
    message(FATAL_ERROR "ZS_CUDA is on but NCCL was not found (set NCCL_HOME)")
  endif()
  add_library(zs_nccl INTERFACE)
  target_include_directories(zs_nccl SYSTEM INTERFACE "${NCCL_INCLUDE_DIR}")
  target_link_libraries(zs_nccl INTERFACE "${NCCL_LIBRARY}")
  message(STATUS "ZeroShard: GPU build (NCCL ${NCCL_LIBRARY})")
else()
  # CPU build: only libtorch_cpu and c10, with the headers; no CUDA config is evaluated.
  add_library(zs_torch INTERFACE)
  target_include_directories(zs_torch SYSTEM INTERFACE
    "${ZS_TORCH_ROOT}/include" "${ZS_TORCH_ROOT}/include/torch/csrc/api/include")
  target_link_libraries(zs_torch INTERFACE
    "${ZS_TORCH_ROOT}/lib/libtorch_cpu.so" "${ZS_TORCH_ROOT}/lib/libc10.so")
  target_link_options(zs_torch INTERFACE "-Wl,-rpath,${ZS_TORCH_ROOT}/lib")
  target_compile_definitions(zs_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
  message(STATUS "ZeroShard: CPU build (LibTorch ${ZS_TORCH_ROOT})")
endif()

# --- zlib: checksums of checkpoint shards ---------------------------------------------------------
find_package(ZLIB REQUIRED)

# --- MPI: collectives on CPU tensors ------------------------------------------------------------------
find_package(MPI REQUIRED COMPONENTS CXX)

# --- liburing: the io_uring engine of NVMe offload ---------------------------------------------------
# Linked statically: the GPU machine installs nothing, so scripts/prepare_gpu_carry.sh copies the
# Debian package's header and liburing.a into .deps/liburing/. The system copy is searched first.
find_path(LIBURING_INCLUDE_DIR liburing.h PATHS "${PROJECT_SOURCE_DIR}/.deps/liburing/include")
find_library(LIBURING_STATIC_LIBRARY NAMES liburing.a PATHS "${PROJECT_SOURCE_DIR}/.deps/liburing/lib")
if(NOT LIBURING_INCLUDE_DIR OR NOT LIBURING_STATIC_LIBRARY)
  message(FATAL_ERROR "liburing (liburing.h, liburing.a) not found: run scripts/setup.sh "
                      "(Debian package liburing-dev) or scripts/prepare_gpu_carry.sh")
endif()
add_library(zs_liburing INTERFACE)
target_include_directories(zs_liburing SYSTEM INTERFACE "${LIBURING_INCLUDE_DIR}")
target_link_libraries(zs_liburing INTERFACE "${LIBURING_STATIC_LIBRARY}")

# --- sentencepiece: Llama 2's tokenizer.model, for raw-text training data (optional) ------------------
# Debian's libsentencepiece-dev (scripts/setup.sh installs it). Without it the library still builds
# and reading a tokenizer.model is a clear error (the GPU machine, which installs nothing).
# The tests also train a tiny SentencePiece model with the package's trainer library.
find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h)
find_library(SENTENCEPIECE_LIBRARY NAMES sentencepiece)
find_library(SENTENCEPIECE_TRAIN_LIBRARY NAMES sentencepiece_train)
add_library(zs_sentencepiece INTERFACE)
add_library(zs_sentencepiece_train INTERFACE)
if(SENTENCEPIECE_INCLUDE_DIR AND SENTENCEPIECE_LIBRARY)
  target_include_directories(zs_sentencepiece SYSTEM INTERFACE "${SENTENCEPIECE_INCLUDE_DIR}")
  target_link_libraries(zs_sentencepiece INTERFACE "${SENTENCEPIECE_LIBRARY}")
  target_compile_definitions(zs_sentencepiece INTERFACE ZS_WITH_SENTENCEPIECE=1)
  if(SENTENCEPIECE_TRAIN_LIBRARY)
    target_link_libraries(zs_sentencepiece_train INTERFACE zs_sentencepiece "${SENTENCEPIECE_TRAIN_LIBRARY}")
    target_compile_definitions(zs_sentencepiece_train INTERFACE ZS_WITH_SENTENCEPIECE_TRAINER=1)
  endif()
else()
  message(STATUS "ZeroShard: sentencepiece not found: tokenizer.model files cannot be read (Debian: libsentencepiece-dev)")
endif()

# --- Header-only libraries ----------------------------------------------------------------------------
# Found on the system, or in .deps/include (copied there for the GPU machine, which installs nothing).
find_path(NLOHMANN_INCLUDE_DIR nlohmann/json.hpp HINTS "${PROJECT_SOURCE_DIR}/.deps/include")
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp HINTS "${PROJECT_SOURCE_DIR}/.deps/include")
if(NOT NLOHMANN_INCLUDE_DIR OR NOT CLI11_INCLUDE_DIR)
  message(FATAL_ERROR "nlohmann-json or CLI11 headers not found: run scripts/setup.sh")
endif()
add_library(zs_headers INTERFACE)
target_include_directories(zs_headers SYSTEM INTERFACE "${NLOHMANN_INCLUDE_DIR}" "${CLI11_INCLUDE_DIR}")

# --- GoogleTest ------------------------------------------------------------------------------------------
if(ZS_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    foreach(_src /usr/src/googletest "${PROJECT_SOURCE_DIR}/.deps/googletest")
      if(EXISTS "${_src}/CMakeLists.txt" AND NOT TARGET gtest)
        set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
        add_subdirectory("${_src}" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
      endif()
    endforeach()
    if(NOT TARGET gtest)
      message(WARNING "GoogleTest not found: tests are not built")
      set(ZS_BUILD_TESTS OFF)
    else()
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
  endif()
endif()
