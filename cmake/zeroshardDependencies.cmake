# The dependencies libzeroshard links, as imported targets. One file for both sides: the build
# includes it from cmake/Dependencies.cmake, and the installed zeroshardConfig.cmake includes it so
# that a program using find_package(zeroshard) gets the same targets:
#   zeroshard::torch     LibTorch under ZS_TORCH_ROOT (CPU: libtorch_cpu and c10; CUDA: Torch's own package)
#   zeroshard::nccl      NCCL (CUDA builds only), the copy beside LibTorch first
#   zeroshard::json      nlohmann-json's headers (the public headers include them)
#   zeroshard::liburing  liburing, the io_uring engine of NVMe offload (static)
#   zeroshard::sentencepiece  SentencePiece (where the build had it: ZS_WITH_SENTENCEPIECE)
#   MPI::MPI_CXX, ZLIB::ZLIB, Threads::Threads from CMake's own modules.
# Input: ZS_TORCH_ROOT, ZS_WITH_CUDA, ZS_WITH_SENTENCEPIECE (unset: use it where found), ZS_DEPENDENCY_HINTS (folders searched first: <hint>/include,
# <hint>/liburing/{include,lib}), ZS_TORCH_VERSION (the version required, when set) and
# ZS_PACKAGE_CONFIG (set by zeroshardConfig.cmake: a missing dependency makes the package not found
# instead of stopping the configuration).
# Output: the targets, and ZS_TORCH_VERSION (the version found) when it was not set.

# A missing dependency: a configuration error in the build, "not found" with the reason for a package.
# `ok` names a variable; the message is the remaining arguments, joined.
macro(_zs_require ok)
  if(NOT ${ok})
    string(CONCAT _zs_message ${ARGN})
    if(ZS_PACKAGE_CONFIG)
      set(zeroshard_FOUND FALSE)
      set(zeroshard_NOT_FOUND_MESSAGE "${_zs_message}")
      return()
    endif()
    message(FATAL_ERROR "${_zs_message}")
  endif()
endmacro()

set(_zs_hint_includes "")
set(_zs_hint_uring_includes "")
set(_zs_hint_uring_libs "")
foreach(_hint IN LISTS ZS_DEPENDENCY_HINTS)
  list(APPEND _zs_hint_includes "${_hint}/include")
  list(APPEND _zs_hint_uring_includes "${_hint}/liburing/include")
  list(APPEND _zs_hint_uring_libs "${_hint}/liburing/lib")
endforeach()

# --- LibTorch --------------------------------------------------------------------------------------
set(_zs_torch_version_file "${ZS_TORCH_ROOT}/share/cmake/Torch/TorchConfigVersion.cmake")
set(_zs_torch_ok FALSE)
if(EXISTS "${ZS_TORCH_ROOT}/include/ATen/ATen.h" AND EXISTS "${_zs_torch_version_file}")
  set(_zs_torch_ok TRUE)
endif()
_zs_require(_zs_torch_ok
  "ZS_TORCH_ROOT=${ZS_TORCH_ROOT} holds no LibTorch (include/ATen/ATen.h, share/cmake/Torch): "
  "pass -DZS_TORCH_ROOT=<LibTorch folder>")
file(STRINGS "${_zs_torch_version_file}" _zs_line REGEX "set\\(PACKAGE_VERSION \"[^\"]+\"\\)")
string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" _zs_torch_found_version "${_zs_line}")
if(ZS_TORCH_VERSION)
  # The library's C++ ABI is LibTorch's: another version would link and then crash.
  set(_zs_same_torch TRUE)
  if(NOT _zs_torch_found_version VERSION_EQUAL ZS_TORCH_VERSION)
    set(_zs_same_torch FALSE)
  endif()
  _zs_require(_zs_same_torch
    "ZeroShard was built with LibTorch ${ZS_TORCH_VERSION}, but ZS_TORCH_ROOT=${ZS_TORCH_ROOT} holds "
    "${_zs_torch_found_version}: pass -DZS_TORCH_ROOT=<a LibTorch ${ZS_TORCH_VERSION} folder>")
else()
  set(ZS_TORCH_VERSION "${_zs_torch_found_version}")
endif()

if(NOT TARGET zeroshard::torch)
  add_library(zeroshard::torch INTERFACE IMPORTED)
  if(ZS_WITH_CUDA)
    # LibTorch's own CMake config brings CUDA, cuDNN and the sm_90a flags with it.
    find_package(Torch PATHS "${ZS_TORCH_ROOT}/share/cmake/Torch" NO_DEFAULT_PATH)
    _zs_require(Torch_FOUND "LibTorch's CMake package under ${ZS_TORCH_ROOT} did not load (see above)")
    set_target_properties(zeroshard::torch PROPERTIES
      INTERFACE_LINK_LIBRARIES "${TORCH_LIBRARIES}"
      INTERFACE_COMPILE_DEFINITIONS "ZS_WITH_CUDA=1")
  else()
    # CPU build: only libtorch_cpu and c10, with the headers; no CUDA config is evaluated.
    set_target_properties(zeroshard::torch PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${ZS_TORCH_ROOT}/include;${ZS_TORCH_ROOT}/include/torch/csrc/api/include"
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${ZS_TORCH_ROOT}/include;${ZS_TORCH_ROOT}/include/torch/csrc/api/include"
      INTERFACE_LINK_LIBRARIES "${ZS_TORCH_ROOT}/lib/libtorch_cpu.so;${ZS_TORCH_ROOT}/lib/libc10.so"
      INTERFACE_LINK_OPTIONS "-Wl,-rpath,${ZS_TORCH_ROOT}/lib"
      INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1")
  endif()
endif()

# --- NCCL (CUDA builds): the copy next to LibTorch (pip's nvidia-nccl) first, so one libnccl is loaded.
if(ZS_WITH_CUDA AND NOT TARGET zeroshard::nccl)
  get_filename_component(_zs_site "${ZS_TORCH_ROOT}" DIRECTORY)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS "${_zs_site}/nvidia/nccl/include" ENV NCCL_HOME PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS "${_zs_site}/nvidia/nccl/lib" ENV NCCL_HOME
               PATH_SUFFIXES lib lib64)
  set(_zs_nccl_ok FALSE)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(_zs_nccl_ok TRUE)
  endif()
  _zs_require(_zs_nccl_ok "NCCL was not found (set NCCL_HOME, or NCCL_INCLUDE_DIR and NCCL_LIBRARY)")
  add_library(zeroshard::nccl INTERFACE IMPORTED)
  set_target_properties(zeroshard::nccl PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${NCCL_LIBRARY}")
endif()

# --- nlohmann-json (header only) ---------------------------------------------------------------------
if(NOT TARGET zeroshard::json)
  find_path(NLOHMANN_INCLUDE_DIR nlohmann/json.hpp HINTS ${_zs_hint_includes})
  _zs_require(NLOHMANN_INCLUDE_DIR
    "nlohmann-json's headers were not found (Debian: nlohmann-json3-dev; or set NLOHMANN_INCLUDE_DIR)")
  add_library(zeroshard::json INTERFACE IMPORTED)
  set_target_properties(zeroshard::json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${NLOHMANN_INCLUDE_DIR}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${NLOHMANN_INCLUDE_DIR}")
endif()

# --- liburing: linked statically, since the GPU machines have only the copy in .deps/liburing -----------
if(NOT TARGET zeroshard::liburing)
  find_path(LIBURING_INCLUDE_DIR liburing.h PATHS ${_zs_hint_uring_includes})
  find_library(LIBURING_STATIC_LIBRARY NAMES liburing.a PATHS ${_zs_hint_uring_libs})
  set(_zs_uring_ok FALSE)
  if(LIBURING_INCLUDE_DIR AND LIBURING_STATIC_LIBRARY)
    set(_zs_uring_ok TRUE)
  endif()
  _zs_require(_zs_uring_ok
    "liburing (liburing.h, liburing.a) was not found (Debian: liburing-dev; or set LIBURING_INCLUDE_DIR "
    "and LIBURING_STATIC_LIBRARY)")
  add_library(zeroshard::liburing INTERFACE IMPORTED)
  set_target_properties(zeroshard::liburing PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${LIBURING_INCLUDE_DIR}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${LIBURING_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${LIBURING_STATIC_LIBRARY}")
endif()

# --- sentencepiece (optional): Llama 2's tokenizer.model. The build uses it where Debian's
# libsentencepiece-dev is installed (ZS_WITH_SENTENCEPIECE unset: look); the package needs it again
# when the build had it (ZS_WITH_SENTENCEPIECE ON); without it, reading a tokenizer.model is a clear error.
if(NOT DEFINED ZS_WITH_SENTENCEPIECE OR ZS_WITH_SENTENCEPIECE)
  find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h)
  find_library(SENTENCEPIECE_LIBRARY NAMES sentencepiece)
  set(_zs_spm_found FALSE)
  if(SENTENCEPIECE_INCLUDE_DIR AND SENTENCEPIECE_LIBRARY)
    set(_zs_spm_found TRUE)
  endif()
  if(DEFINED ZS_WITH_SENTENCEPIECE)
    _zs_require(_zs_spm_found "sentencepiece was not found (Debian: libsentencepiece-dev; or set "
                              "SENTENCEPIECE_INCLUDE_DIR and SENTENCEPIECE_LIBRARY)")
  endif()
  set(ZS_WITH_SENTENCEPIECE ${_zs_spm_found})
  if(ZS_WITH_SENTENCEPIECE AND NOT TARGET zeroshard::sentencepiece)
    add_library(zeroshard::sentencepiece INTERFACE IMPORTED)
    set_target_properties(zeroshard::sentencepiece PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${SENTENCEPIECE_INCLUDE_DIR}"
      INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${SENTENCEPIECE_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${SENTENCEPIECE_LIBRARY}"
      INTERFACE_COMPILE_DEFINITIONS "ZS_WITH_SENTENCEPIECE=1")
  endif()
endif()

# --- From CMake's modules ----------------------------------------------------------------------------
find_package(Threads)
_zs_require(Threads_FOUND "no thread library was found")
find_package(ZLIB)
_zs_require(ZLIB_FOUND "zlib was not found (Debian: zlib1g-dev)")
find_package(MPI COMPONENTS CXX)
_zs_require(MPI_CXX_FOUND "MPI for C++ was not found (Debian: libopenmpi-dev)")
