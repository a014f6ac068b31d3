// CUDA error checks and owned buffers, shared by rainloop::Engine and rainloop-trt.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "rainloop/engine.hpp"

namespace rainloop {

inline void check(cudaError_t err, const char* what) {
    if (err != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(err));
}

struct DeviceBuffer {
    void* ptr = nullptr;
    explicit DeviceBuffer(size_t bytes) { check(cudaMalloc(&ptr, bytes), "cudaMalloc"); }
    ~DeviceBuffer() { cudaFree(ptr); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

// Pinned host memory: copies to and from the GPU run at full speed.
struct PinnedBuffer {
    void* ptr = nullptr;
    explicit PinnedBuffer(size_t bytes) { check(cudaMallocHost(&ptr, bytes), "cudaMallocHost"); }
    ~PinnedBuffer() { cudaFreeHost(ptr); }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
};

}  // namespace rainloop
