"""The CNN: a small U-Net with CenterNet-style heads at stride 2 (torchvision building blocks).

Why this design (see also models/*.md): objects are small (a ship is 2-30 px at 10 m, a vehicle 3-8 px at 1 m)
and what matters is counting them, so the network predicts a dense *centre heatmap* per point class (one peak
per object, no anchor boxes, no box NMS) plus, at each centre, a sub-cell offset, the object's length and width
and its heading; area classes (encampments, vehicle parks) come from a *mask head* that is vectorised to
polygons. This is the design the xView3 winners used for Sentinel-1 vessels (CenterNet heads on a U-Net at
stride 2). Output stride 2 keeps 20 m cells at 10 m: two berthed ships side by side are 20-40 m apart, and the
offset head restores sub-cell position. The encoder is deliberately small (0.2-0.5 M parameters, 3 or 4 scales,
:data:`ARCH_V1` / :data:`ARCH_V2`) so that a 2-core CPU runs several megapixels per second; every block is
torchvision's ``Conv2dNormActivation``. The architecture is stored with the weights and rebuilt from them.

Tensor shapes (``N`` batch, ``C`` input channels of the profile, ``H``/``W`` divisible by 8, or 16 for four scales):

- input ``(N, C, H, W)`` float32, from :func:`satwatch.detection.profiles.model_input`;
- ``heat``   ``(N, P, H/2, W/2)`` logits of object centres, one channel per point class;
- ``offset`` ``(N, 2, H/2, W/2)`` centre position inside its 2 x 2 cell, (dx, dy) in input pixels, 0..2;
- ``size``   ``(N, 2, H/2, W/2)`` log(1 + length_m), log(1 + width_m) (metres, so resolution independent);
- ``angle``  ``(N, 2, H/2, W/2)`` (sin 2t, cos 2t) of the long axis' heading t (clockwise from grid north);
- ``mask``   ``(N, M, H/2, W/2)`` logits of area classes (M may be 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional
from torchvision.ops.misc import Conv2dNormActivation

from satwatch.atomic import atomic_path
from satwatch.detection.profiles import Profile
from satwatch.errors import UsageError

__all__ = ["ARCH_V1", "ARCH_V2", "CenterNet", "NetOutput", "build_network", "resolve_device", "save_model"]

NetOutput = dict[str, torch.Tensor]
"""Network outputs by head name: ``heat``, ``offset``, ``size``, ``angle``, ``mask``."""


def _block(c_in: int, c_out: int, stride: int = 1) -> Conv2dNormActivation:
    return Conv2dNormActivation(c_in, c_out, kernel_size=3, stride=stride, norm_layer=nn.BatchNorm2d,
                                activation_layer=nn.ReLU)


ARCH_V1: dict[str, Any] = {"widths": [24, 48, 64], "head": 32, "stem": "full"}
"""The first architecture (shipped ``s1`` and ``vhr`` weights): a full-resolution stem layer, 3 scales."""
ARCH_V2: dict[str, Any] = {"widths": [16, 32, 64, 96], "head": 24, "stem": "strided"}
"""The faster, wider-context architecture (shipped ``s2`` weights): the stem convolves at stride 2 (no layer
runs at full resolution, where each layer costs the most per pixel) and a fourth scale at stride 16 sees
about 1 km around each pixel (enough to tell a ship from a quay or a roof); about 1.8x faster on CPU than
:data:`ARCH_V1` (measured with ``benchmarks/bench_detector.py``)."""


class CenterNet(nn.Module):
    """Small U-Net encoder-decoder with CenterNet heads at output stride 2.

    Args:
        in_channels: input channels (profile bands + validity mask).
        point_classes: number of heatmap channels.
        mask_classes: number of mask channels (0 for none).
        widths: channels at strides 2, 4, 8 (and 16 when four are given).
        head: channels of the stride-2 decoder that feeds the heads.
        stem: ``full`` (a 16-channel layer at full resolution, then stride 2) or ``strided`` (stride 2 at once).
    """

    def __init__(self, in_channels: int, point_classes: int, mask_classes: int,
                 widths: Sequence[int] = (24, 48, 64), head: int = 32, stem: str = "full") -> None:
        super().__init__()
        if len(widths) not in (3, 4) or stem not in ("full", "strided"):
            raise ValueError(f"unsupported architecture: widths {list(widths)}, stem {stem!r}")
        w1, w2, w3 = widths[:3]
        self.widths = tuple(widths)
        self.head = head
        self.stem_kind = stem
        self.point_classes = point_classes
        self.mask_classes = mask_classes
        if stem == "full":
            self.stem = nn.Sequential(_block(in_channels, 16), _block(16, w1, 2), _block(w1, w1))
        else:
            self.stem = nn.Sequential(_block(in_channels, w1, 2), _block(w1, w1))
        self.down2 = nn.Sequential(_block(w1, w2, 2), _block(w2, w2))
        deep = len(widths) == 4
        self.down3 = nn.Sequential(_block(w2, w3, 2), _block(w3, w3)) if deep else nn.Sequential(
            _block(w2, w3, 2), _block(w3, w3), _block(w3, w3))
        self.down4 = nn.Sequential(_block(w3, widths[3], 2), _block(widths[3], widths[3]),
                                   _block(widths[3], widths[3])) if deep else None
        self.up3 = _block(widths[3] + w3, w3) if deep else None
        self.up2 = _block(w3 + w2, w2)
        self.up1 = nn.Sequential(_block(w2 + w1, head), _block(head, head))
        self.heat = nn.Conv2d(head, point_classes, 1)
        self.regress = nn.Conv2d(head, 6, 1)
        self.mask = nn.Conv2d(head, mask_classes, 1) if mask_classes else None
        # CenterNet's prior: start the heatmap near 0.01 so the focal loss is stable from the first step.
        assert self.heat.bias is not None
        nn.init.constant_(self.heat.bias, -4.6)

    @property
    def arch(self) -> dict[str, Any]:
        """The constructor's architecture arguments (stored with the weights)."""
        return {"widths": list(self.widths), "head": self.head, "stem": self.stem_kind}

    def forward(self, x: torch.Tensor) -> NetOutput:
        """Run the network; see the module docstring for shapes."""
        a = self.stem(x)
        b = self.down2(a)
        c = self.down3(b)
        if self.down4 is not None and self.up3 is not None:
            d = self.down4(c)
            c = self.up3(torch.cat([functional.interpolate(d, size=c.shape[-2:], mode="nearest"), c], 1))
        b = self.up2(torch.cat([functional.interpolate(c, size=b.shape[-2:], mode="nearest"), b], 1))
        a = self.up1(torch.cat([functional.interpolate(b, size=a.shape[-2:], mode="nearest"), a], 1))
        reg = self.regress(a)
        out: NetOutput = {
            "heat": self.heat(a),
            "offset": 2.0 * torch.sigmoid(reg[:, 0:2]),
            "size": reg[:, 2:4],
            "angle": torch.tanh(reg[:, 4:6]),
        }
        if self.mask is not None:
            out["mask"] = self.mask(a)
        else:
            out["mask"] = a.new_zeros((a.shape[0], 0, a.shape[2], a.shape[3]))
        return out


def build_network(profile: Profile, arch: dict[str, Any] | None = None) -> CenterNet:
    """Return a fresh :class:`CenterNet` for ``profile`` with the architecture ``arch``.

    ``arch`` holds ``widths``, ``head`` and ``stem`` (as stored in the weights' ``meta``); missing keys take
    :data:`ARCH_V1`'s values, which is what weights without an architecture record were trained with.
    """
    spec = {**ARCH_V1, **(arch or {})}
    return CenterNet(profile.in_channels, len(profile.point_classes), len(profile.mask_classes),
                     widths=tuple(int(w) for w in spec["widths"]), head=int(spec["head"]), stem=str(spec["stem"]))


def resolve_device(device: str) -> torch.device:
    """Return the torch device for ``auto``, ``cpu`` or ``cuda`` (``auto``: CUDA when available).

    Raises:
        UsageError: ``cuda`` requested but no CUDA device is available, or an unknown name.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError("--device cuda was asked for but this machine has no CUDA GPU; use --device cpu")
        return torch.device(device)
    raise UsageError(f"unknown device {device!r}; use auto, cpu or cuda")


def save_model(net: CenterNet, profile: Profile, thresholds: dict[str, float], meta: dict[str, Any],
               path: Path) -> Path:
    """Write weights and metadata to ``path`` atomically (plain tensors and values: loadable weights-only).

    ``meta`` gains ``profile``, ``thresholds`` and the architecture (``widths``, ``head``, ``stem``).
    """
    payload = {
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "meta": {**meta, "profile": profile.name, "thresholds": dict(thresholds), **net.arch},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path
