// rainloop::Engine: a derainer TensorRT engine for C++ robotics code.
//
// The native twin of rainloop.engines.trt.TensorRTRunner, for stacks that
// cannot host Python: frames already on the GPU go in (packed BGR8, or NV12
// as Jetson cameras give it), derained BGR8 comes out, all enqueued on the
// caller's stream. Build engines with `rainloop build` on the target device;
// an engine only runs on the TensorRT version and GPU that built it.
//
// Written against TensorRT's C++ API of 10.3 (JetPack 6) and 11.x: tensors
// addressed by name, setInputShape + setTensorAddress + enqueueV3.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace rainloop {

// One line of text saying what went wrong and with which file.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Engine {
   public:
    // `allow_host_code`: the engine was built with `rainloop build --version-compatible`.
    // A DLA engine is loaded onto the DLA core its build record (path + ".json") names.
    explicit Engine(const std::string& path, bool allow_host_code = false);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Derain one frame; every pointer is device memory, pitches are in bytes.
    void derain_bgr8(const uint8_t* bgr, size_t pitch, uint8_t* out, size_t out_pitch, int width, int height,
                     cudaStream_t stream);
    // NV12 needs an engine with float input (the default export, not --io uint8).
    void derain_nv12(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch, uint8_t* out,
                     size_t out_pitch, int width, int height, cudaStream_t stream);

    int max_width() const;
    int max_height() const;
    // "float32", "float16" or "uint8": the engine's input tensor.
    std::string input_type() const;

   private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace rainloop
