// Frames <-> derainer tensors, on the CPU and on the GPU (C API, so ctypes,
// C and C++ callers share it).
//
// A derainer graph takes NCHW RGB in [0, 1] (float32, or float16 for an FP16
// engine) and returns the same; cameras give packed BGR8 or NV12. These
// functions are the glue, with the conversions of rainloop/pixels.h. Images
// are single frames with a row pitch in bytes; planar tensors are dense.
//
// The CUDA launchers take device pointers and only enqueue work on `stream`;
// they return 0, or a cudaError_t code when the launch fails.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Outside the extern "C" block below: CUDA's headers declare C++ overloads.
#ifdef RAINLOOP_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RL_FLOAT32 = 0, RL_FLOAT16 = 1 } rl_dtype;

// CPU reference (float32 only): what the GPU path is checked against.
void rl_bgr8_to_planar(const uint8_t* bgr, size_t pitch, int width, int height, float* planar);
void rl_nv12_to_planar(const uint8_t* y, size_t y_pitch, const uint8_t* uv, size_t uv_pitch,
                       int width, int height, float* planar);
void rl_planar_to_bgr8(const float* planar, int width, int height, uint8_t* bgr, size_t pitch);

#ifdef RAINLOOP_WITH_CUDA
int rl_bgr8_to_planar_cuda(const uint8_t* bgr, size_t pitch, int width, int height, void* planar,
                           rl_dtype dtype, cudaStream_t stream);
int rl_nv12_to_planar_cuda(const uint8_t* y, size_t y_pitch, const uint8_t* uv, size_t uv_pitch,
                           int width, int height, void* planar, rl_dtype dtype, cudaStream_t stream);
int rl_planar_to_bgr8_cuda(const void* planar, rl_dtype dtype, int width, int height, uint8_t* bgr,
                           size_t pitch, cudaStream_t stream);
#endif

#ifdef __cplusplus
}
#endif
