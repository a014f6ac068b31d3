// rainloop-trt: derain a raw video stream with a TensorRT engine, no Python.
//
//   rainloop-trt ENGINE WIDTHxHEIGHT [--nv12] [--version-compatible] < in > out
//
// Reads raw frames from stdin (bgr24, or nv12 with --nv12) and writes derained
// bgr24 frames to stdout until end of input; the frame rate goes to stderr.
// Raw pipes compose with any capture or encoder, e.g.
//   ffmpeg -i rain.mp4 -f rawvideo -pix_fmt bgr24 - | rainloop-trt model.engine 640x360 |
//     ffmpeg -f rawvideo -pix_fmt bgr24 -s 640x360 -i - derained.mp4

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "cuda_memory.hpp"
#include "rainloop/engine.hpp"

namespace {

using rainloop::check;

struct Options {
    std::string engine;
    int width = 0, height = 0;
    bool nv12 = false, version_compatible = false;
};

Options parse(int argc, char** argv) {
    Options o;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--nv12") o.nv12 = true;
        else if (a == "--version-compatible") o.version_compatible = true;
        else if (a.rfind("--", 0) == 0) throw rainloop::Error("unknown option " + a);
        else if (positional == 0) o.engine = a, ++positional;
        else if (positional == 1 && std::sscanf(a.c_str(), "%dx%d", &o.width, &o.height) == 2) ++positional;
        else throw rainloop::Error("unexpected argument " + a + " (the size is WIDTHxHEIGHT, e.g. 640x360)");
    }
    if (positional != 2 || o.width <= 0 || o.height <= 0)
        throw rainloop::Error("usage: rainloop-trt ENGINE WIDTHxHEIGHT [--nv12] [--version-compatible] < in > out");
    if (o.nv12 && (o.width % 2 || o.height % 2)) throw rainloop::Error("NV12 frames need an even width and height");
    return o;
}

int run(const Options& o) {
    rainloop::Engine engine(o.engine, o.version_compatible);
    const size_t w = o.width, h = o.height, out_bytes = w * h * 3;
    const size_t in_bytes = o.nv12 ? w * h * 3 / 2 : out_bytes;
    rainloop::PinnedBuffer host_in(in_bytes), host_out(out_bytes);
    rainloop::DeviceBuffer dev_in(in_bytes), dev_out(out_bytes);
    cudaStream_t stream;
    check(cudaStreamCreate(&stream), "cudaStreamCreate");
    auto* in = static_cast<uint8_t*>(dev_in.ptr);
    auto* out = static_cast<uint8_t*>(dev_out.ptr);
    long frames = 0;
    double busy = 0;
    // One frame in flight: the latency a robot sees is one frame's work, not a queue's.
    for (;;) {
        const size_t got = std::fread(host_in.ptr, 1, in_bytes, stdin);
        if (got == 0) break;
        if (got != in_bytes)
            throw rainloop::Error("stdin: the last frame is cut short (" + std::to_string(got) + " of " +
                                  std::to_string(in_bytes) + " bytes); is the size right?");
        const auto t0 = std::chrono::steady_clock::now();
        check(cudaMemcpyAsync(in, host_in.ptr, in_bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
        if (o.nv12)
            engine.derain_nv12(in, w, in + w * h, w, out, w * 3, o.width, o.height, stream);
        else
            engine.derain_bgr8(in, w * 3, out, w * 3, o.width, o.height, stream);
        check(cudaMemcpyAsync(host_out.ptr, out, out_bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
        check(cudaStreamSynchronize(stream), "derain");
        busy += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (std::fwrite(host_out.ptr, 1, out_bytes, stdout) != out_bytes) throw rainloop::Error("stdout: write failed");
        ++frames;
    }
    cudaStreamDestroy(stream);
    std::fprintf(stderr, "rainloop-trt: %ld frames %dx%d (%s engine), %.1f FPS on the GPU side\n", frames, o.width,
                 o.height, engine.input_type().c_str(), frames && busy > 0 ? frames / busy : 0.0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rainloop-trt: %s\n", e.what());
        return 2;
    }
}
