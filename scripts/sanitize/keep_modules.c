/* Preloaded into every process of scripts/sanitize.sh: dlclose does nothing, so the plugins that
 * OpenMPI loads with dlopen and closes in MPI_Finalize stay mapped until the process ends.
 * LeakSanitizer reports at exit, after that: without this it cannot name the library of a block
 * allocated by a closed plugin ("<unknown module>"), and scripts/sanitize/lsan.supp cannot match it. */
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
