// The build record `rainloop build` writes beside an engine (ENGINE.json), as
// far as the native runner needs it (C API, so ctypes and C callers share it).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

// The DLA core the engine at `engine_path` was built for, read from its record;
// -1 for a GPU engine, or when there is no readable record (an engine from trtexec).
int rl_engine_dla_core(const char* engine_path);

#ifdef __cplusplus
}
#endif
