#pragma once
// The engine's OpenMP threads sleep between parallel regions instead of spinning, unless the
// user chose: spinning workers starve every other job on a busy machine (docs/BENCHMARKS.md).

namespace fmav::app {

// Where neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, sets OMP_WAIT_POLICY=passive and
// runs this program again with the same arguments (libgomp reads its settings as it is
// loaded, before main). Returns when there was nothing to do or the re-run could not start
// (then the program goes on with the default policy). Call first thing in main.
void use_passive_omp_wait(char** argv);

}  // namespace fmav::app
