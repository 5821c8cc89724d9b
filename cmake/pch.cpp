// An empty translation unit: the target that compiles the shared precompiled header (PrecompiledHeaders.cmake).
