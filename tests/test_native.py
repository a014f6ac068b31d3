"""The native part (CMakeLists.txt): it configures and builds here, its frame
conversions agree with the Python runtime's (rainloop.frames) byte for byte, and it
reads the DLA core from the build records rainloop.engines writes.

The CUDA kernels and the TensorRT runner share those conversions (native/include/
rainloop/pixels.h). Where a CUDA compiler exists the kernels are built; where a GPU
and a CUDA build of PyTorch (whose tensors hold the device buffers) exist too, they
run and must match the CPU reference. The TensorRT runner needs TensorRT's headers,
which cannot be installed here.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from engines_toys import fp16_model

from rainloop import builtin
from rainloop.engines.cache import cache_key, store
from rainloop.engines.onnx_info import inspect_onnx
from rainloop.engines.plan import make_plan
from rainloop.engines.shapes import parse_shapes
from rainloop.frames import from_model, to_model

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None,
                                reason="cmake or a C++ compiler is not installed")

u8p = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")
f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
SIZE, INT = ctypes.c_size_t, ctypes.c_int


def _build(build: Path, cuda: bool, args=(), env=None) -> subprocess.CompletedProcess:
    configure = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), f"-DRAINLOOP_CUDA={'ON' if cuda else 'OFF'}",
                                *args], capture_output=True, text=True, env=env)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    done = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return configure


@pytest.fixture(scope="module")
def cpu_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("native")
    return build, _build(build, cuda=False)


def test_configure_says_the_cuda_parts_are_skipped(cpu_build):
    _, configure = cpu_build
    assert "rainloop: CUDA parts skipped (RAINLOOP_CUDA is OFF)" in configure.stdout


@pytest.fixture(scope="module")
def lib(cpu_build):
    build, _ = cpu_build
    lib = ctypes.CDLL(str(build / "librainloop_prepost.so"))
    lib.rl_bgr8_to_planar.argtypes = [u8p, SIZE, INT, INT, f32p]
    lib.rl_nv12_to_planar.argtypes = [u8p, SIZE, u8p, SIZE, INT, INT, f32p]
    lib.rl_planar_to_bgr8.argtypes = [f32p, INT, INT, u8p, SIZE]
    return lib


def _frame(w: int, h: int, seed: int = 5) -> np.ndarray:
    return builtin.random_crop(np.random.default_rng(seed), (w, h), split="test")


def test_bgr8_frames_become_the_tensor_the_runtime_feeds(lib):
    frame = _frame(97, 61)  # odd sizes; the frame sits in a wider buffer (a row pitch)
    padded = np.zeros((61, 97 * 3 + 13), np.uint8)
    padded[:, :97 * 3] = frame.reshape(61, -1)
    got = np.empty((3, 61, 97), np.float32)
    lib.rl_bgr8_to_planar(padded, padded.shape[1], 97, 61, got)
    np.testing.assert_array_equal(got, to_model(frame[None], "float")[0])


def test_tensors_become_the_bytes_the_runtime_writes(lib):
    rng = np.random.default_rng(3)
    y = rng.uniform(-0.2, 1.2, (3, 40, 51)).astype(np.float32)
    y[0, 0, :20] = (np.arange(20) + 0.5) / 255  # exact halves: rounding must go to even
    y[1, 0, :3] = [np.nan, np.inf, -np.inf]
    got = np.full((40, 51 * 3 + 7), 77, np.uint8)
    lib.rl_planar_to_bgr8(y, 51, 40, got, got.shape[1])
    finite = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=0.0)
    np.testing.assert_array_equal(got[:, :51 * 3].reshape(40, 51, 3), from_model(finite[None], "float")[0])
    assert (got[:, 51 * 3:] == 77).all()  # the pitch padding is left alone


def test_nv12_camera_frames_agree_with_opencv(lib):
    w, h = 96, 64
    hsv = np.stack([*np.meshgrid(np.linspace(0, 179, w), np.linspace(0, 255, h)), np.full((h, w), 255.0)], -1)
    colours = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)  # every hue, grey to saturated
    i420 = cv2.cvtColor(colours, cv2.COLOR_BGR2YUV_I420)
    luma = np.ascontiguousarray(i420[:h])
    u = i420[h:h + h // 4].reshape(h // 2, w // 2)
    v = i420[h + h // 4:].reshape(h // 2, w // 2)
    uv = np.ascontiguousarray(np.stack([u, v], -1).reshape(h // 2, w))
    got = np.empty((3, h, w), np.float32)
    lib.rl_nv12_to_planar(luma, w, uv, w, w, h, got)
    expected = cv2.cvtColor(np.concatenate([luma, uv]), cv2.COLOR_YUV2BGR_NV12)
    bgr = np.rint(got[::-1].transpose(1, 2, 0) * 255).astype(int)
    assert np.abs(bgr - expected.astype(int)).max() <= 1


def test_the_runner_reads_the_dla_core_from_the_build_record(cpu_build, tmp_path):
    build, _ = cpu_build
    read = ctypes.CDLL(str(build / "librainloop_record.so")).rl_engine_dla_core
    read.argtypes, read.restype = [ctypes.c_char_p], ctypes.c_int
    onnx = fp16_model(tmp_path / "m.fp16.onnx")
    info = inspect_onnx(onnx)
    device = {"name": "Orin", "compute_capability": "8.7"}
    for core in (None, 0, 1):
        plan = make_plan(info, "best", parse_shapes("640x360", info.layout), "10.3.0", dla_core=core)
        engine = tmp_path / f"dla{core}.engine"
        store(engine, b"engine", cache_key(onnx, plan, "10.3.0", device))
        assert read(str(engine).encode()) == (-1 if core is None else core)
    assert read(str(tmp_path / "trtexec.engine").encode()) == -1  # no record at all
    (tmp_path / "broken.engine.json").write_text('{"dla_core": ')
    assert read(str(tmp_path / "broken.engine").encode()) == -1


JETPACK_NVCC = Path("/usr/local/cuda/bin/nvcc")


def _only_jetpack_nvcc() -> tuple[list[str], dict]:
    """cmake arguments and environment under which JetPack's /usr/local/cuda/bin/nvcc is the only one reachable."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    others = sorted({d for d in [*path, "/usr/local/bin", "/usr/bin", "/bin"]
                     if d and (Path(d) / "nvcc").exists() and Path(d) != JETPACK_NVCC.parent})
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_HOME")}
    env["PATH"] = os.pathsep.join(d for d in path if d not in others)
    return [f"-DCMAKE_IGNORE_PATH={';'.join(others)}"], env


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no CUDA compiler (nvcc): the kernels are not built")
def test_cuda_kernels_compile_and_trt_runner_is_built_only_with_tensorrt(tmp_path):
    # Where /usr/local/cuda/bin/nvcc exists, hide every other nvcc: CMake must find it off PATH, as on a Jetson.
    args, env = _only_jetpack_nvcc() if JETPACK_NVCC.exists() else ([], None)
    configure = _build(tmp_path, cuda=True, args=args, env=env)
    assert "CUDA parts skipped" not in configure.stdout
    if JETPACK_NVCC.exists():
        assert f"CMAKE_CUDA_COMPILER:STRING={JETPACK_NVCC}" in (tmp_path / "CMakeCache.txt").read_text()
    assert (tmp_path / "librainloop_prepost_cuda.so").is_file()
    has_trt = "TensorRT not found" not in configure.stdout
    assert (tmp_path / "rainloop-trt").is_file() == has_trt


def _cuda_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@pytest.fixture(scope="module")
def cuda_lib(tmp_path_factory, lib):
    if shutil.which("nvcc") is None or _cuda_torch() is None:
        pytest.skip("no CUDA compiler or no GPU visible to PyTorch: the kernels cannot run")
    build = tmp_path_factory.mktemp("native_cuda")
    _build(build, cuda=True)
    cuda = ctypes.CDLL(str(build / "librainloop_prepost_cuda.so"))
    ptr = ctypes.c_void_p
    cuda.rl_bgr8_to_planar_cuda.argtypes = [ptr, SIZE, INT, INT, ptr, INT, ptr]
    cuda.rl_nv12_to_planar_cuda.argtypes = [ptr, SIZE, ptr, SIZE, INT, INT, ptr, INT, ptr]
    cuda.rl_planar_to_bgr8_cuda.argtypes = [ptr, INT, INT, INT, ptr, SIZE, ptr]
    return cuda


@pytest.mark.parametrize("dtype", [0, 1], ids=["float32", "float16"])
def test_cuda_kernels_match_the_cpu_reference(cuda_lib, lib, dtype):
    torch = _cuda_torch()
    tdtype = torch.float16 if dtype else torch.float32
    w, h, pitch = 97, 61, 97 * 3 + 13
    frame = np.zeros((h, pitch), np.uint8)
    frame[:, :w * 3] = _frame(w, h).reshape(h, -1)
    ref = np.empty((3, h, w), np.float32)
    lib.rl_bgr8_to_planar(frame, pitch, w, h, ref)

    src = torch.from_numpy(frame).cuda()
    planar = torch.empty((3, h, w), dtype=tdtype, device="cuda")
    assert cuda_lib.rl_bgr8_to_planar_cuda(src.data_ptr(), pitch, w, h, planar.data_ptr(), dtype, None) == 0
    torch.cuda.synchronize()
    np.testing.assert_allclose(planar.float().cpu().numpy(), ref, atol=0 if dtype == 0 else 1e-3)

    out = torch.full((h, pitch), 77, dtype=torch.uint8, device="cuda")
    assert cuda_lib.rl_planar_to_bgr8_cuda(planar.data_ptr(), dtype, w, h, out.data_ptr(), pitch, None) == 0
    torch.cuda.synchronize()
    got = out.cpu().numpy()
    np.testing.assert_array_equal(got[:, :w * 3], frame[:, :w * 3])  # through the tensor and back, exactly
    assert (got[:, w * 3:] == 77).all()

    luma = np.ascontiguousarray(frame[:, :w - 1])  # any bytes do as luma and chroma; widths even for NV12
    uv = np.ascontiguousarray(frame[: h // 2, :w - 1])
    nw, nh = w - 1, h - 1
    ref12 = np.empty((3, nh, nw), np.float32)
    lib.rl_nv12_to_planar(luma, luma.shape[1], uv, uv.shape[1], nw, nh, ref12)
    planar12 = torch.empty((3, nh, nw), dtype=tdtype, device="cuda")
    assert cuda_lib.rl_nv12_to_planar_cuda(torch.from_numpy(luma).cuda().data_ptr(), luma.shape[1],
                                           torch.from_numpy(uv).cuda().data_ptr(), uv.shape[1], nw, nh,
                                           planar12.data_ptr(), dtype, None) == 0
    torch.cuda.synchronize()
    # A fused multiply-add on the GPU may round a value at a half-level the other way: one level at most.
    np.testing.assert_allclose(planar12.float().cpu().numpy(), ref12, atol=1 / 255 + 1e-3)
