# Third-party dependencies: LibTorch, MPI, nlohmann-json, CLI11, liburing, zlib, GoogleTest, and
# (GPU) CUDA + NCCL. Every dependency becomes one imported/interface target; layers link the ones
# they need.

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

# LibTorch, NCCL, nlohmann-json, liburing, MPI, zlib, Threads: the imported targets libzeroshard
# links (zeroshard::torch, zeroshard::json, ...), made by the same file the installed package uses.
# Besides the system, .deps/ is searched: the GPU machine installs nothing, so
# scripts/prepare_gpu_carry.sh copies the header-only libraries and liburing there.
set(ZS_DEPENDENCY_HINTS "${PROJECT_SOURCE_DIR}/.deps")
include("${CMAKE_CURRENT_LIST_DIR}/zeroshardDependencies.cmake")
if(ZS_WITH_CUDA)
  message(STATUS "ZeroShard: GPU build (LibTorch ${ZS_TORCH_VERSION} ${ZS_TORCH_ROOT}, NCCL ${NCCL_LIBRARY})")
else()
  message(STATUS "ZeroShard: CPU build (LibTorch ${ZS_TORCH_VERSION} ${ZS_TORCH_ROOT})")
endif()

# The tests also train a tiny SentencePiece model with the package's trainer library (tests only).
find_library(SENTENCEPIECE_TRAIN_LIBRARY NAMES sentencepiece_train)
add_library(zs_sentencepiece_train INTERFACE)
if(ZS_WITH_SENTENCEPIECE AND SENTENCEPIECE_TRAIN_LIBRARY)
  target_link_libraries(zs_sentencepiece_train INTERFACE zeroshard::sentencepiece "${SENTENCEPIECE_TRAIN_LIBRARY}")
  target_compile_definitions(zs_sentencepiece_train INTERFACE ZS_WITH_SENTENCEPIECE_TRAINER=1)
endif()
if(NOT ZS_WITH_SENTENCEPIECE)
  message(STATUS "ZeroShard: sentencepiece not found: tokenizer.model files cannot be read (Debian: libsentencepiece-dev)")
endif()

# --- CLI11: command lines of the programs (and of zs_ckpt's library half); never a public header ---
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp HINTS "${PROJECT_SOURCE_DIR}/.deps/include")
if(NOT CLI11_INCLUDE_DIR)
  message(FATAL_ERROR "CLI11 headers not found: run scripts/setup.sh")
endif()
add_library(zs_cli11 INTERFACE)
target_include_directories(zs_cli11 SYSTEM INTERFACE "${CLI11_INCLUDE_DIR}")
# What the programs, tests and benchmarks include beside the library: both header-only libraries.
add_library(zs_headers INTERFACE)
target_link_libraries(zs_headers INTERFACE zeroshard::json zs_cli11)

# --- stb: stb_image.h decodes JPEG/PNG, stb_image_write.h encodes them (header-only, build only) -------
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb HINTS "${PROJECT_SOURCE_DIR}/.deps/include")
if(NOT STB_INCLUDE_DIR OR NOT EXISTS "${STB_INCLUDE_DIR}/stb_image_write.h")
  message(FATAL_ERROR "stb's headers (stb_image.h, stb_image_write.h) were not found: the image data layer "
                      "decodes JPEG and PNG with them (Debian: libstb-dev; run scripts/setup.sh, or set STB_INCLUDE_DIR)")
endif()

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
