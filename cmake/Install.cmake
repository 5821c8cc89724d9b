# `cmake --install build --prefix <dir>`: libzeroshard, its headers (include/zs/...), the programs
# (bin/: zsrun, zs_ckpt, train_*), the example configs (share/zeroshard/configs) and a CMake package,
# so that another project writes
#   find_package(zeroshard 0.1 REQUIRED)          # -DCMAKE_PREFIX_PATH=<dir>
#   target_link_libraries(app PRIVATE zeroshard::zeroshard)
# The package (lib/cmake/zeroshard) records how this build was made (LibTorch folder and version,
# CUDA or not) and finds the same dependencies again (zeroshardDependencies.cmake); it holds no
# path of the source or build tree, and moves with the prefix.
include(CMakePackageConfigHelpers)
set(ZS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/zeroshard")

install(TARGETS zeroshard EXPORT zeroshardTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Every layer's headers (the launcher is zsrun's, not the library's).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/src/zs" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "launcher" EXCLUDE)
install(FILES "${PROJECT_BINARY_DIR}/include/zs/version.hpp" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zs)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/configs/" DESTINATION ${CMAKE_INSTALL_DATADIR}/zeroshard/configs)

install(EXPORT zeroshardTargets NAMESPACE zeroshard:: DESTINATION ${ZS_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/zeroshardConfig.cmake.in "${PROJECT_BINARY_DIR}/zeroshardConfig.cmake"
  INSTALL_DESTINATION ${ZS_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API, so only the same major.minor is compatible.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/zeroshardConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/zeroshardConfig.cmake"
  "${PROJECT_BINARY_DIR}/zeroshardConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/zeroshardDependencies.cmake"
  DESTINATION ${ZS_INSTALL_CMAKEDIR})
