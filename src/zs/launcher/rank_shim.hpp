// The small parent zsrun puts between mpirun and each CPU rank (`zsrun --rank-shim -- prog args`).
//
// mpirun does not always say which rank failed first; the shim does: it runs the program, and
// if it exits non-zero or dies by a signal, prints "[zeroshard] rank R: exits with code C (...)"
// (a line zsrun recognises) and exits with the same code. Signals sent to it (mpirun stopping the
// job) are passed on to the program.
#pragma once

namespace zs::launcher {

// argv: the program and its arguments. Returns the exit code to exit with.
int run_rank_shim(int argc, char** argv);

}  // namespace zs::launcher
