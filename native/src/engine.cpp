// rainloop::Engine (see rainloop/engine.hpp). Every TensorRT call of the native part is here.

#include "rainloop/engine.hpp"

#include <NvInferRuntime.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include "cuda_memory.hpp"
#include "rainloop/engine_record.h"
#include "rainloop/prepost.h"

namespace rainloop {
namespace {

class Logger : public nvinfer1::ILogger {
    void log(Severity severity, const char* msg) noexcept override {
        if (severity <= Severity::kWARNING) std::fprintf(stderr, "TensorRT: %s\n", msg);
    }
};

Logger& logger() {
    static Logger instance;  // TensorRT keeps a reference for the runtime's lifetime
    return instance;
}

size_t element_size(nvinfer1::DataType t) {
    switch (t) {
        case nvinfer1::DataType::kFLOAT: return 4;
        case nvinfer1::DataType::kHALF: return 2;
        case nvinfer1::DataType::kUINT8: return 1;
        default: return 0;
    }
}

}  // namespace

struct Engine::State {
    std::string path;
    std::unique_ptr<nvinfer1::IRuntime> runtime;  // must outlive the engine
    std::unique_ptr<nvinfer1::ICudaEngine> engine;
    std::unique_ptr<nvinfer1::IExecutionContext> context;
    std::string input, output;
    nvinfer1::DataType in_type{}, out_type{};
    bool nhwc = false;  // uint8 engines take NHWC BGR frames as they are
    int min_w = 1, min_h = 1, max_w = 0, max_h = 0;
    std::unique_ptr<DeviceBuffer> in_buf, out_buf;

    Error fail(const std::string& what) const { return Error(path + ": " + what); }

    void read_io() {
        for (int i = 0; i < engine->getNbIOTensors(); ++i) {
            const char* name = engine->getIOTensorName(i);
            (engine->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT ? input : output) = name;
        }
        if (engine->getNbIOTensors() != 2 || input.empty() || output.empty())
            throw fail("not a derainer engine (expected one input and one output tensor)");
        in_type = engine->getTensorDataType(input.c_str());
        out_type = engine->getTensorDataType(output.c_str());
        if (!element_size(in_type) || !element_size(out_type) ||
            (in_type == nvinfer1::DataType::kUINT8) != (out_type == nvinfer1::DataType::kUINT8))
            throw fail("unsupported input/output types (expected float32, float16 or uint8 on both sides)");
        nhwc = in_type == nvinfer1::DataType::kUINT8;
    }

    // Frame sizes the engine accepts: its static shape, or its first profile's range.
    void read_sizes() {
        const char* name = input.c_str();
        const int h_axis = nhwc ? 1 : 2, w_axis = nhwc ? 2 : 3;
        nvinfer1::Dims shape = engine->getTensorShape(name);
        if (shape.nbDims != 4) throw fail("input is not a 4-D image tensor");
        nvinfer1::Dims lo = shape, hi = shape;
        if (shape.d[h_axis] <= 0 || shape.d[w_axis] <= 0) {
            lo = engine->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMIN);
            hi = engine->getProfileShape(name, 0, nvinfer1::OptProfileSelector::kMAX);
        }
        min_h = static_cast<int>(lo.d[h_axis]), min_w = static_cast<int>(lo.d[w_axis]);
        max_h = static_cast<int>(hi.d[h_axis]), max_w = static_cast<int>(hi.d[w_axis]);
    }

    void prepare(int width, int height) {
        if (width < min_w || height < min_h || width > max_w || height > max_h)
            throw fail("frame " + std::to_string(width) + "x" + std::to_string(height) + " is outside the engine's " +
                       std::to_string(min_w) + "x" + std::to_string(min_h) + " .. " + std::to_string(max_w) + "x" +
                       std::to_string(max_h) + "; rebuild it with `rainloop build --shapes`");
        nvinfer1::Dims4 dims = nhwc ? nvinfer1::Dims4{1, height, width, 3} : nvinfer1::Dims4{1, 3, height, width};
        if (!context->setInputShape(input.c_str(), dims)) throw fail("TensorRT refused the input shape");
    }

    void enqueue(cudaStream_t stream) {
        if (!context->setTensorAddress(input.c_str(), in_buf->ptr) ||
            !context->setTensorAddress(output.c_str(), out_buf->ptr) || !context->enqueueV3(stream))
            throw fail("TensorRT could not enqueue the engine");
    }

    rl_dtype planar_type(nvinfer1::DataType t) const { return t == nvinfer1::DataType::kHALF ? RL_FLOAT16 : RL_FLOAT32; }

    // The float engines' output tensor -> BGR8 frame.
    void finish(uint8_t* out, size_t out_pitch, int width, int height, cudaStream_t stream) {
        check(static_cast<cudaError_t>(
                  rl_planar_to_bgr8_cuda(out_buf->ptr, planar_type(out_type), width, height, out, out_pitch, stream)),
              "post-processing kernel");
    }
};

Engine::Engine(const std::string& path, bool allow_host_code) : s_(new State) {
    s_->path = path;
    std::ifstream file(path, std::ios::binary);
    if (!file) throw s_->fail("no such engine file");
    std::vector<char> blob((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    s_->runtime.reset(nvinfer1::createInferRuntime(logger()));
    if (!s_->runtime) throw s_->fail("cannot create a TensorRT runtime");
    s_->runtime->setEngineHostCodeAllowed(allow_host_code);
    // A DLA engine runs on the core the runtime names at load time, not the one it was built for.
    const int dla_core = rl_engine_dla_core(path.c_str());
    if (dla_core >= 0) {
        if (dla_core >= s_->runtime->getNbDLACores())
            throw s_->fail("built for DLA core " + std::to_string(dla_core) + " and this device has " +
                           std::to_string(s_->runtime->getNbDLACores()) + " DLA cores; rebuild it here");
        s_->runtime->setDLACore(dla_core);
    }
    s_->engine.reset(s_->runtime->deserializeCudaEngine(blob.data(), blob.size()));
    if (!s_->engine)
        throw s_->fail("TensorRT cannot load it (built by another TensorRT version or GPU? rebuild it here)");
    s_->context.reset(s_->engine->createExecutionContext());
    if (!s_->context) throw s_->fail("cannot create an execution context (out of GPU memory?)");
    s_->read_io();
    s_->read_sizes();
    // Sized once for the largest frame: nothing is allocated per frame.
    const size_t pixels = static_cast<size_t>(s_->max_w) * s_->max_h * 3;
    s_->in_buf.reset(new DeviceBuffer(pixels * element_size(s_->in_type)));
    s_->out_buf.reset(new DeviceBuffer(pixels * element_size(s_->out_type)));
}

Engine::~Engine() = default;

int Engine::max_width() const { return s_->max_w; }
int Engine::max_height() const { return s_->max_h; }

std::string Engine::input_type() const {
    return s_->nhwc ? "uint8" : (s_->in_type == nvinfer1::DataType::kHALF ? "float16" : "float32");
}

void Engine::derain_bgr8(const uint8_t* bgr, size_t pitch, uint8_t* out, size_t out_pitch, int width, int height,
                         cudaStream_t stream) {
    s_->prepare(width, height);
    const size_t row = static_cast<size_t>(width) * 3;
    if (s_->nhwc) {  // the graph converts; only repack pitched frames densely
        check(cudaMemcpy2DAsync(s_->in_buf->ptr, row, bgr, pitch, row, height, cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpy2DAsync");
        s_->enqueue(stream);
        check(cudaMemcpy2DAsync(out, out_pitch, s_->out_buf->ptr, row, row, height, cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpy2DAsync");
        return;
    }
    check(static_cast<cudaError_t>(rl_bgr8_to_planar_cuda(bgr, pitch, width, height, s_->in_buf->ptr,
                                                          s_->planar_type(s_->in_type), stream)),
          "pre-processing kernel");
    s_->enqueue(stream);
    s_->finish(out, out_pitch, width, height, stream);
}

void Engine::derain_nv12(const uint8_t* luma, size_t y_pitch, const uint8_t* uv, size_t uv_pitch, uint8_t* out,
                         size_t out_pitch, int width, int height, cudaStream_t stream) {
    if (s_->nhwc) throw s_->fail("NV12 frames need an engine with float input (export without --io uint8)");
    s_->prepare(width, height);
    check(static_cast<cudaError_t>(rl_nv12_to_planar_cuda(luma, y_pitch, uv, uv_pitch, width, height,
                                                          s_->in_buf->ptr, s_->planar_type(s_->in_type), stream)),
          "pre-processing kernel");
    s_->enqueue(stream);
    s_->finish(out, out_pitch, width, height, stream);
}

}  // namespace rainloop
