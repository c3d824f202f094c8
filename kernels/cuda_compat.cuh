#pragma once
// CUDA's headers for the kernels or, where the tests compile the kernels' source for the host
// (FMAV_CUDA_EMULATION), tests/cuda_emulation.h, which gives the same names host meanings.

#ifdef FMAV_CUDA_EMULATION
#include "cuda_emulation.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
// The block's dynamic shared memory; its size is the launch's third argument.
#define FMAV_DYNAMIC_SHARED(name) extern __shared__ __align__(128) unsigned char name[]
#endif
