# LibTorch's headers are most of a heavy C++ file's compile time here (19 of the 24 s gpt.cpp takes
# at -O3, on one core). They are compiled once into a precompiled header that the targets made of
# such files reuse: the programs (tests, trainers, benchmarks) and the layers marked PCH in
# src/zs/CMakeLists.txt; that took a heavy file to about half its time. Loading the 0.5 GB header
# costs a few seconds, more than a light file (no LibTorch module headers) takes whole, so the
# light layers go without, as do the CUDA kernels and zsrun's launcher (no LibTorch at all).
# GCC takes the header only where the file is compiled as it was (position-independent: -fPIC);
# elsewhere it parses the headers as before, with a -Winvalid-pch warning.
option(ZS_PRECOMPILED_HEADERS "Compile LibTorch's most used headers once, for the targets that include them most" ON)

if(ZS_PRECOMPILED_HEADERS)
  add_library(zs_pch OBJECT "${CMAKE_CURRENT_LIST_DIR}/pch.cpp")
  target_link_libraries(zs_pch PRIVATE zeroshard::torch)
  set_target_properties(zs_pch PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_precompile_headers(zs_pch PRIVATE
    <ATen/core/Tensor.h> <c10/core/Device.h> <torch/nn/module.h> <torch/nn/pimpl.h>
    <functional> <map> <memory> <optional> <string> <vector>)
endif()

# `target` compiles against the shared precompiled header (a no-op with ZS_PRECOMPILED_HEADERS=OFF).
function(zs_use_pch target)
  if(NOT ZS_PRECOMPILED_HEADERS)
    return()
  endif()
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "EXECUTABLE")
    target_compile_options(${target} PRIVATE -fPIC)  # as the header was compiled (not the default -fPIE)
  endif()
  target_precompile_headers(${target} REUSE_FROM zs_pch)
endfunction()
