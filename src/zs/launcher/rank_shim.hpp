// The small parent zsrun puts between mpirun and each CPU rank (`zsrun --rank-shim -- prog args`).
//
// - It gives the program torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) from
//   mpirun's or srun's, and OMP_NUM_THREADS (this node's cores over its ranks) unless the job set it.
//   zsrun also puts it under srun (--launcher slurm).
// - It carries the program's output to zsrun intact. mpirun tags what it reads from a rank's pipe,
//   not lines, and drops bytes when the tags outgrow its buffer (many short lines: about 5% of a
//   stream of numbers, one per line, was lost). The shim reads the program's stdout and stderr
//   itself and writes each batch of whole lines as one record line: "\x1e" then the lines joined
//   by "\n" escapes (backslash escaped as "\\"). mpirun then tags one long line per batch, and zsrun
//   decodes the records (decode_shim_record).
// - If the program exits non-zero or dies by a signal, it prints "[zeroshard] rank R: exits with
//   code C (...)" (a line zsrun recognises) and exits with the same code. Signals sent to it (mpirun
//   stopping the job) are passed on to the program; a program dying of such a signal did not fail,
//   and the shim says nothing.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace zs::launcher {

// argv: the program and its arguments. Returns the exit code to exit with.
int run_rank_shim(int argc, char** argv);

// A record's lines; nullopt for a line that is not a record (mpirun's own, a program run without the shim).
std::optional<std::vector<std::string>> decode_shim_record(const std::string& line);

// The record holding `lines` (for tests and the shim).
std::string encode_shim_record(const std::vector<std::string>& lines);

}  // namespace zs::launcher
