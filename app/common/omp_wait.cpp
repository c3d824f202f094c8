// Passive OpenMP waiting for fmav and fma-viewer (omp_wait.h).

#include "omp_wait.h"

#include <unistd.h>

#include <cstdlib>

namespace fmav::app {

void use_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (::setenv("OMP_WAIT_POLICY", "passive", 0) != 0) return;
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on as we are
}

}  // namespace fmav::app
