// CPU reference of the frame <-> tensor conversions: the GPU path's yardstick,
// and a fallback for hosts without CUDA.

#include "rainloop/pixels.h"
#include "rainloop/prepost.h"

namespace {

template <typename F>
void each_pixel(int width, int height, F f) {
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) f(x, y);
}

}  // namespace

extern "C" void rl_bgr8_to_planar(const uint8_t* bgr, size_t pitch, int width, int height, float* planar) {
    each_pixel(width, height, [&](int x, int y) { rainloop::bgr8_pixel(bgr, pitch, width, height, x, y, planar); });
}

extern "C" void rl_nv12_to_planar(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch,
                                  int width, int height, float* planar) {
    each_pixel(width, height, [&](int x, int y) {
        rainloop::nv12_pixel(luma, y_pitch, uv, uv_pitch, width, height, x, y, planar);
    });
}

extern "C" void rl_planar_to_bgr8(const float* planar, int width, int height, uint8_t* bgr, size_t pitch) {
    each_pixel(width, height, [&](int x, int y) {
        rainloop::planar_pixel_to_bgr8(planar, width, height, x, y, bgr, pitch);
    });
}
