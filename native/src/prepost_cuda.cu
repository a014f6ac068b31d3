// CUDA frame <-> tensor conversions: one thread per pixel, the arithmetic of
// rainloop/pixels.h. Work is only enqueued; the caller owns the stream.

#include <cuda_fp16.h>

#include "rainloop/pixels.h"
#include "rainloop/prepost.h"

namespace {

constexpr dim3 kBlock(32, 8);

dim3 grid(int width, int height) { return dim3((width + kBlock.x - 1) / kBlock.x, (height + kBlock.y - 1) / kBlock.y); }

template <typename T>
__global__ void bgr8_kernel(const uint8_t* bgr, size_t pitch, int width, int height, T* planar) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height) rainloop::bgr8_pixel(bgr, pitch, width, height, x, y, planar);
}

template <typename T>
__global__ void nv12_kernel(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch, int width,
                            int height, T* planar) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height) rainloop::nv12_pixel(luma, y_pitch, uv, uv_pitch, width, height, x, y, planar);
}

template <typename T>
__global__ void bgr8_out_kernel(const T* planar, int width, int height, uint8_t* bgr, size_t pitch) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < height) rainloop::planar_pixel_to_bgr8(planar, width, height, x, y, bgr, pitch);
}

int launched() { return (int)cudaGetLastError(); }

}  // namespace

extern "C" int rl_bgr8_to_planar_cuda(const uint8_t* bgr, size_t pitch, int width, int height, void* planar,
                                      rl_dtype dtype, cudaStream_t stream) {
    if (dtype == RL_FLOAT16)
        bgr8_kernel<<<grid(width, height), kBlock, 0, stream>>>(bgr, pitch, width, height, (__half*)planar);
    else
        bgr8_kernel<<<grid(width, height), kBlock, 0, stream>>>(bgr, pitch, width, height, (float*)planar);
    return launched();
}

extern "C" int rl_nv12_to_planar_cuda(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch,
                                      int width, int height, void* planar, rl_dtype dtype, cudaStream_t stream) {
    if (dtype == RL_FLOAT16)
        nv12_kernel<<<grid(width, height), kBlock, 0, stream>>>(luma, y_pitch, uv, uv_pitch, width, height,
                                                                (__half*)planar);
    else
        nv12_kernel<<<grid(width, height), kBlock, 0, stream>>>(luma, y_pitch, uv, uv_pitch, width, height,
                                                                (float*)planar);
    return launched();
}

extern "C" int rl_planar_to_bgr8_cuda(const void* planar, rl_dtype dtype, int width, int height, uint8_t* bgr,
                                      size_t pitch, cudaStream_t stream) {
    if (dtype == RL_FLOAT16)
        bgr8_out_kernel<<<grid(width, height), kBlock, 0, stream>>>((const __half*)planar, width, height, bgr, pitch);
    else
        bgr8_out_kernel<<<grid(width, height), kBlock, 0, stream>>>((const float*)planar, width, height, bgr, pitch);
    return launched();
}
