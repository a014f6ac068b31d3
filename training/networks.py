"""Every network of JRGR, defined once; presets pick their options.

Conventions (shared with export and runtime):
- derainers (G1, G3) take RGB in [0, 1] and return the background B in [0, 1];
- rain translators (G2, G4) take a rain layer R = O - B in [-1, 1] and return
  one in [-1, 1];
- discriminators take images in [0, 1] (rain-layer-free: O or B) and return a
  PatchGAN score map.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


# --------------------------------------------------------------------------
# Derainers (G1, G3)
# --------------------------------------------------------------------------


class _CycleUNetBlock(nn.Module):
    """One level of the CycleGAN U-Net: down, the inner levels, up, skip-concat."""

    def __init__(self, outer: int, inner: int, in_ch: int | None, sub: nn.Module | None,
                 outermost: bool, innermost: bool, norm: str):
        super().__init__()
        in_ch = outer if in_ch is None else in_ch
        bias = norm != "batch"
        down = nn.Conv2d(in_ch, inner, 4, 2, 1, bias=bias)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            layers = [down, sub, nn.ReLU(True), up]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True), up, _norm(norm, outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias)
            layers = [nn.LeakyReLU(0.2, True), down, _norm(norm, inner), sub,
                      nn.ReLU(True), up, _norm(norm, outer)]
        self.model = nn.Sequential(*layers)
        self.outermost = outermost

    def forward(self, x):
        y = self.model(x)
        return y if self.outermost else torch.cat([x, y], 1)


class CycleUNet(nn.Module):
    """The published G1/G3: CycleGAN's `unet_128` (7 levels, 4x4 stride-2 convs).

    Works in [-1, 1] internally with a tanh head, as the authors' code does;
    the public interface is [0, 1] like every derainer here.
    """

    def __init__(self, levels: int = 7, base: int = 64, norm: str = "instance"):
        super().__init__()
        block = _CycleUNetBlock(base * 8, base * 8, None, None, False, True, norm)
        for _ in range(levels - 5):
            block = _CycleUNetBlock(base * 8, base * 8, None, block, False, False, norm)
        for mult in (4, 2, 1):
            block = _CycleUNetBlock(base * mult, base * mult * 2, None, block, False, False, norm)
        self.net = _CycleUNetBlock(3, base, 3, block, True, False, norm)
        self.multiple = 2 ** levels

    def forward(self, x):
        return (torch.tanh(self.net(x * 2 - 1)) + 1) / 2


class EdgeUNet(nn.Module):
    """A TensorRT- and INT8-friendly derainer for real time on Jetson.

    Why this shape: 3x3 convs + ReLU only (fold and quantize cleanly), no
    instance norm (whole-frame reductions are slow at 720p and overflow in
    FP16), resize + conv upsampling instead of ConvTranspose (TensorRT and
    ONNX Runtime disagree on its per-channel INT8 axis), and a residual head
    B = O - R so a dry frame passes through when R is ~0.

    With `gate`, R is scaled by a per-frame rain gate in (0, 1) computed from
    the global average of every encoder level. A dry scene and a veiled rainy
    one can look alike locally (low contrast); whether the frame has rain
    streaks at all is a whole-frame question, and the gate lets the network
    answer it once and pass dry frames through unchanged.

    With `tone`, R also gets a per-frame, per-channel affine term g * O + c
    from the same global averages (FrameTone). Rain's veil O = T B + (1 - T) A
    is affine in B over the frame; its airlight A is a whole-frame quantity
    that 3x3 convs with a ~100 px field of view can only guess patch by patch.

    With `veil`, R also gets a per-pixel gain term v(x, y) * O from the last
    decoder features. The veil's transmission T varies with depth across the
    frame, and undoing it multiplies O by 1/T there: a product the additive
    conv path can only approximate, while one more 3x3 conv makes it exact.
    On the physics renderer, undoing the veil alone would lift moderate rain from
    17.2 to 25.5 dB.

    With `dark`, the first conv also sees the dark channel (He et al., CVPR 2009):
    the darkest value of any colour within DARK_SIZE px. Outside the sky, a clear
    scene has a dark pixel nearby, so a veil shows as a raised dark channel,
    T ~ 1 - dark / A: a whole-neighbourhood minimum that 3x3 convs and ReLUs reach
    only slowly.
    """

    DARK_SIZE = 15

    def __init__(self, levels: int = 3, base: int = 16, max_mult: int = 4, blocks: int = 1, gate: bool = False,
                 tone: bool = False, veil: bool = False, dark: bool = False):
        super().__init__()
        chans = [min(base * 2 ** i, base * max_mult) for i in range(levels + 1)]
        self.dark = dark
        self.head = nn.Sequential(nn.Conv2d(4 if dark else 3, chans[0], 3, 1, 1), nn.ReLU(True))
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1), nn.ReLU(True),
                          *[m for _ in range(blocks)
                            for m in (nn.Conv2d(chans[i + 1], chans[i + 1], 3, 1, 1), nn.ReLU(True))])
            for i in range(levels))
        # Decoder: 1x1 channel squeeze at low resolution, nearest upsample, add
        # the skip, 3x3 conv. Adding (not concatenating) keeps the full-res
        # convs narrow, which is where the FLOPs at 720p go.
        self.squeeze = nn.ModuleList(nn.Conv2d(chans[i + 1], chans[i], 1) for i in reversed(range(levels)))
        self.fuse = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i], 3, 1, 1), nn.ReLU(True))
            for i in reversed(range(levels)))
        self.tail = nn.Conv2d(chans[0], 3, 3, 1, 1)
        self.multiple = 2 ** levels
        self.gate = RainGate(sum(chans)) if gate else None
        self.tone = FrameTone(sum(chans)) if tone else None
        self.veil = VeilGain(chans[0]) if veil else None
        self.detail = None

    def _encode(self, x) -> list[torch.Tensor]:
        skips = [self.head(torch.cat([x, dark_channel(x, self.DARK_SIZE)], 1) if self.dark else x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        return skips

    def rain_logit(self, x) -> torch.Tensor:
        """The gate's logit per frame, shape (N,): > 0 means "raining" (trained by losses.gate)."""
        return self.gate(*self._encode(x)).flatten()

    def rain_layer(self, x) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The gate's logit (N,1,1,1), None without a gate, and the rain layer R before the
        gate: the output is x - sigmoid(logit) * R."""
        skips = self._encode(x)
        logit = self.gate(*skips) if self.gate is not None else None
        tone = self.tone(*skips) if self.tone is not None else None
        y = skips.pop()
        for squeeze, fuse in zip(self.squeeze, self.fuse):
            y = F.interpolate(squeeze(y), scale_factor=2.0, mode="nearest")
            y = fuse(y + skips.pop())
        layer = self.tail(y)
        if self.detail is not None:
            layer = layer + self.detail(torch.cat([x, layer], 1))
        if self.veil is not None:
            layer = layer + self.veil(y) * x
        if tone is not None:
            gain, offset = tone.split(3, 1)
            layer = layer + gain * x + offset
        return logit, layer

    def derain_with_logit(self, x) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output and the gate's logit (N,1,1,1; None without a gate) from one pass."""
        logit, layer = self.rain_layer(x)
        return x - (layer if logit is None else torch.sigmoid(logit) * layer), logit

    def forward(self, x):
        return self.derain_with_logit(x)[0]


class ShuffleUNet(EdgeUNet):
    """EdgeUNet with its body at 1/`shuffle` resolution: the edge preset's derainer.

    Why: at 720p almost all of EdgeUNet's work is in its full-resolution convs,
    16 channels wide. Rearranging each shuffle x shuffle block of pixels into
    channels first (PixelUnshuffle; it traces to ONNX Reshape/Transpose) lets the same number of
    multiply-adds run at a sixteenth of the positions with many more channels,
    which GEMM-based kernels (ONNX Runtime on a CPU, TensorRT) also run faster
    per FLOP. The tail predicts the rain layer's shuffle x shuffle pixels per
    position and rearranges them back (PixelShuffle, DepthToSpace), so thin
    one-pixel streaks stay representable. Gate, tone and the residual output
    B = O - gate * R work exactly as in EdgeUNet.
    """

    def __init__(self, shuffle: int = 4, levels: int = 3, base: int = 32, max_mult: int = 4, blocks: int = 1,
                 gate: bool = False, tone: bool = False, detail: int = 0):
        super().__init__(levels=levels, base=base, max_mult=max_mult, blocks=blocks, gate=gate, tone=tone)
        first = self.head[0]
        self.head = nn.Sequential(nn.PixelUnshuffle(shuffle),
                                  nn.Conv2d(3 * shuffle ** 2, first.out_channels, 3, 1, 1), nn.ReLU(True))
        self.tail = nn.Sequential(nn.Conv2d(self.tail.in_channels, 3 * shuffle ** 2, 3, 1, 1),
                                  nn.PixelShuffle(shuffle))
        self.shuffle = shuffle
        self.multiple = shuffle * 2 ** levels
        if detail:
            self.detail = FullResDetail(detail)


class FullResDetail(nn.Sequential):
    """A narrow full-resolution correction of the rain layer, from the frame and the layer so far.

    Why: thin, sharp streaks are drawn by single pixels; the body at 1/shuffle resolution
    places them only as well as its PixelShuffle tail can. Three narrow 3x3 convs at full
    resolution (about 2 GFLOP per 720p frame at 8 channels) sharpen them. The last conv
    starts at zero, so the path starts as a no-op.
    """

    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(6, channels, 3, 1, 1), nn.ReLU(True),
                         nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(True),
                         nn.Conv2d(channels, 3, 3, 1, 1))
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)


def dark_channel(x: torch.Tensor, size: int) -> torch.Tensor:
    """min over colours and a size x size window, (N,1,H,W); two 1-D max pools, since a
    window's extreme is separable."""
    neg = -x.amin(1, keepdim=True)
    neg = F.max_pool2d(neg, (1, size), 1, (0, size // 2))
    return -F.max_pool2d(neg, (size, 1), 1, (size // 2, 0))


# EdgeUNet's optional per-frame heads: config key -> what a message calls it.
HEADS = {"gate": "rain gate", "tone": "frame tone", "veil": "veil gain"}
# Its on/off options: the heads, and the dark channel input (part of the body: it changes the first conv).
SWITCHES = (*HEADS, "dark")
# Which of them each derainer type takes (ShuffleUNet's body runs below full resolution, where a
# per-pixel veil gain or dark channel would have to be rearranged first: left out).
SWITCHES_OF = {"edge_unet": SWITCHES, "shuffle_unet": ("gate", "tone"), "cycle_unet": ()}


class GlobalHead(nn.Sequential):
    """Per-frame outputs (N,C,1,1) from the global average of each encoder level.

    A Sequential so its weights are named <name>.0 / <name>.2; a module class of its
    own so the FP16 export can keep it in FP32 (a whole-frame mean at 720p overflows
    FP16). The last layer starts at zero: a head added to a trained net changes nothing.
    """

    GAIN = 1.0

    def __init__(self, channels: int, outputs: int):
        super().__init__(nn.Conv2d(channels, 32, 1), nn.ReLU(True), nn.Conv2d(32, outputs, 1))
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)

    def forward(self, *levels):
        pooled = torch.cat([F.adaptive_avg_pool2d(f, 1) for f in levels], 1)
        return self.GAIN * super().forward(pooled)


class RainGate(GlobalHead):
    """The rain logit (N,1,1,1)."""

    # The logit is GAIN * the head: Adam moves each weight by about the learning
    # rate per step, so the gain lets the gate swing from open to closed within a
    # fine-tune's few thousand steps. It starts open: sigmoid(OPEN).
    GAIN = 10.0
    OPEN = 4.0

    def __init__(self, channels: int):
        super().__init__(channels, 1)
        nn.init.constant_(self[-1].bias, self.OPEN / self.GAIN)


class FrameTone(GlobalHead):
    """Per-channel gain and offset of the frame-wide rain layer (N,6,1,1); starts at zero."""

    def __init__(self, channels: int):
        super().__init__(channels, 6)


class VeilGain(nn.Conv2d):
    """Per-pixel, per-channel gain of the input in the rain layer (N,3,H,W); starts at zero,
    so a derainer trained without it starts out unchanged."""

    def __init__(self, channels: int):
        super().__init__(channels, 3, 3, 1, 1)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


# --------------------------------------------------------------------------
# Rain-layer translators (G2, G4)
# --------------------------------------------------------------------------


class _ResBlock(nn.Module):
    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(norm, ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), _norm(norm, ch))

    def forward(self, x):
        return x + self.body(x)


class ResnetTranslator(nn.Module):
    """CycleGAN's ResNet generator (`resnet_9blocks` in the paper), rain layer in, rain layer out.

    background=True (not the paper's) also feeds it the layer's background: a veil's
    rain layer, (1 - T)(A - B), is a function of B, which the rain layer alone hides.
    """

    def __init__(self, base: int = 64, blocks: int = 9, norm: str = "instance", downs: int = 2,
                 background: bool = False):
        super().__init__()
        self.background = background
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(6 if background else 3, base, 7), _norm(norm, base), nn.ReLU(True)]
        ch = base
        for _ in range(downs):
            layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), _norm(norm, ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [_ResBlock(ch, norm) for _ in range(blocks)]
        for _ in range(downs):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1),
                       _norm(norm, ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.multiple = 2 ** downs

    def forward(self, r, b):
        return self.model(torch.cat([r, b], 1) if self.background else r)


# --------------------------------------------------------------------------
# Discriminators (D_t, D_s, D_B)
# --------------------------------------------------------------------------


class PatchDiscriminator(nn.Module):
    """PatchGAN; with 3 strided layers each output sees a 70x70 patch."""

    def __init__(self, base: int = 64, layers: int = 3, norm: str = "instance"):
        super().__init__()
        seq = [nn.Conv2d(3, base, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(base * prev, base * mult, 4, stride, 1),
                    _norm(norm, base * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(base * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x * 2 - 1)


# --------------------------------------------------------------------------
# Building from a config, and the deployable wrapper
# --------------------------------------------------------------------------

DERAINERS = {"cycle_unet": CycleUNet, "edge_unet": EdgeUNet, "shuffle_unet": ShuffleUNet}


def build_derainer(spec: dict) -> nn.Module:
    """spec: {"type": "cycle_unet"|"edge_unet"|"shuffle_unet", **kwargs} (as stored in g3.json)."""
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    return DERAINERS[spec["type"]](**kwargs)


def build_translator(spec: dict) -> nn.Module:
    return ResnetTranslator(**{k: v for k, v in spec.items() if k != "type"})


def build_discriminator(spec: dict) -> nn.Module:
    return PatchDiscriminator(**{k: v for k, v in spec.items() if k != "type"})


class PaddedDerainer(nn.Module):
    """Any-size frames in, same-size frames out: pad to the net's multiple, crop back.

    Replicate padding (ONNX Pad mode "edge") works for every frame size,
    unlike reflect, which needs the pad to be smaller than the side.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.multiple = int(net.multiple)

    def forward(self, x):
        h, w = x.shape[-2], x.shape[-1]
        y = self.net(pad_to_multiple(x, self.multiple))
        return y[..., :h, :w].clamp(0, 1)


def pad_to_multiple(x: torch.Tensor, m: int) -> torch.Tensor:
    """Replicate-pad the bottom and right of NCHW `x` up to multiples of m."""
    h, w = x.shape[-2], x.shape[-1]
    return F.pad(x, [0, (m - w % m) % m, 0, (m - h % m) % m], mode="replicate")
