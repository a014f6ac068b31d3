// Per-pixel conversions between camera frames and a derainer's tensors (C++).
//
// One definition for the CPU reference (prepost_host.cpp, tested against the
// Python runtime's rainloop.frames) and the CUDA kernels (prepost_cuda.cu):
// each loop or kernel only picks (x, y) and calls these, so the two paths
// cannot drift apart. They match rainloop.frames bit for bit: byte -> float is
// a float32 multiply by float32(1/255); float -> byte clamps below 0, scales
// by 255, rounds half to even (OpenCV's saturating conversion) and saturates.
// Tensors are planar RGB (one N=1 NCHW image), dense; frames have a row pitch.
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define RL_HD __host__ __device__ __forceinline__
#else
#define RL_HD inline
#endif

namespace rainloop {

RL_HD float unit(uint8_t v) { return (float)v * (1.0f / 255.0f); }

// v in byte units: saturate to [0, 255] (NaN -> 0), round half to even.
RL_HD uint8_t round_byte(float v) {
    v = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
#if defined(__CUDA_ARCH__)
    return (uint8_t)__float2int_rn(v);
#else
    return (uint8_t)lrintf(v);  // the default rounding mode: half to even
#endif
}

RL_HD uint8_t to_byte(float v) { return round_byte(v > 0.0f ? v * 255.0f : 0.0f); }

RL_HD void store(float* t, size_t i, float v) { t[i] = v; }
RL_HD float load(const float* t, size_t i) { return t[i]; }
#if defined(__CUDACC__)
RL_HD void store(__half* t, size_t i, float v) { t[i] = __float2half_rn(v); }
RL_HD float load(const __half* t, size_t i) { return __half2float(t[i]); }
#endif

template <typename T>
RL_HD void store_rgb(T* planar, int width, int height, int x, int y, float r, float g, float b) {
    const size_t n = (size_t)width * height, i = (size_t)y * width + x;
    store(planar, i, r);
    store(planar, n + i, g);
    store(planar, 2 * n + i, b);
}

template <typename T>
RL_HD void bgr8_pixel(const uint8_t* bgr, size_t pitch, int width, int height, int x, int y, T* planar) {
    const uint8_t* p = bgr + (size_t)y * pitch + 3 * (size_t)x;
    store_rgb(planar, width, height, x, y, unit(p[2]), unit(p[1]), unit(p[0]));
}

// NV12 (a Y plane, then interleaved U,V at half resolution): what Jetson CSI
// cameras (nvarguscamerasrc) and hardware decoders deliver. BT.601 video range
// with the coefficients of OpenCV's COLOR_YUV2BGR_NV12, rounded to bytes as it
// does, so a frame converted here and there agrees to one level.
template <typename T>
RL_HD void nv12_pixel(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch,
                      int width, int height, int x, int y, T* planar) {
    const uint8_t l = luma[(size_t)y * y_pitch + x];
    const uint8_t* c = uv + (size_t)(y / 2) * uv_pitch + 2 * (size_t)(x / 2);
    const float k = 1.164f * (float)(l > 16 ? l - 16 : 0), u = (float)c[0] - 128.0f, v = (float)c[1] - 128.0f;
    store_rgb(planar, width, height, x, y, unit(round_byte(k + 1.596f * v)),
              unit(round_byte(k - 0.391f * u - 0.813f * v)), unit(round_byte(k + 2.018f * u)));
}

template <typename T>
RL_HD void planar_pixel_to_bgr8(const T* planar, int width, int height, int x, int y, uint8_t* bgr, size_t pitch) {
    const size_t n = (size_t)width * height, i = (size_t)y * width + x;
    uint8_t* p = bgr + (size_t)y * pitch + 3 * (size_t)x;
    p[0] = to_byte(load(planar, 2 * n + i));
    p[1] = to_byte(load(planar, n + i));
    p[2] = to_byte(load(planar, i));
}

}  // namespace rainloop
