"""The PyTorch modules that get traced into ONNX: precision and IO variants of a derainer.

Each wraps the training-side network without changing it, so the exported
graph and the PyTorch reference differ only in what the variant asks for.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rainloop.training.networks import GlobalHead, PaddedDerainer

# Whole-plane statistics overflow or lose precision in FP16 (tensorrt.md).
FP32_MODULES = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm, GlobalHead)


class _Fp32(nn.Module):
    """Runs a numerically fragile module in float32 inside an FP16 body."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module.float()

    def forward(self, *xs):
        return self.module(*(x.float() for x in xs)).to(xs[0].dtype)


class HalfBody(nn.Module):
    """The net in FP16 with float32 in/out; padding, cropping and the clamp stay outside in FP32."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = copy.deepcopy(net).half()
        for parent in list(self.net.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, FP32_MODULES):
                    setattr(parent, name, _Fp32(child))
        self.multiple = int(net.multiple)

    def forward(self, x):
        return self.net(x.half()).float()


class Uint8Frames(nn.Module):
    """OpenCV frames in and out: uint8 NHWC BGR around a float NCHW RGB [0,1] derainer."""

    def __init__(self, derainer: nn.Module):
        super().__init__()
        self.derainer = derainer
        self.multiple = int(derainer.multiple)

    def forward(self, frames):
        bgr_to_rgb = [2, 1, 0]
        x = frames.float().div(255.0)[..., bgr_to_rgb].permute(0, 3, 1, 2)
        y = self.derainer(x)  # clamped to [0, 1], so *255 stays in [0, 255]
        return y.permute(0, 2, 3, 1)[..., bgr_to_rgb].mul(255.0).round().to(torch.uint8)


def export_module(derainer: PaddedDerainer, precision: str = "fp32", io: str = "float") -> nn.Module:
    """The module to trace for a precision ("fp32"|"fp16") and IO ("float"|"uint8")."""
    body = HalfBody(derainer.net) if precision == "fp16" else derainer.net
    module = PaddedDerainer(body)
    if io == "uint8":
        module = Uint8Frames(module)
    return module.eval()
