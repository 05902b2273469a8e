"""The CNN: a small U-Net with CenterNet-style heads at stride 2 (torchvision building blocks).

Why this design (see also models/*.md): objects are small (a ship is 2-30 px at 10 m, a vehicle 3-8 px at 1 m)
and what matters is counting them, so the network predicts a dense *centre heatmap* per point class (one peak
per object, no anchor boxes, no box NMS) plus, at each centre, a sub-cell offset, the object's length and width
and its heading; area classes (encampments, vehicle parks) come from a *mask head* that is vectorised to
polygons. This is the design the xView3 winners used for Sentinel-1 vessels (CenterNet heads on a U-Net at
stride 2). Output stride 2 keeps 20 m cells at 10 m: two berthed ships side by side are 20-40 m apart, and the
offset head restores sub-cell position. The encoder is deliberately small (about 0.2 M parameters, 3 scales) so
that a 2-core CPU runs several megapixels per second; every block is torchvision's ``Conv2dNormActivation``.

Tensor shapes (``N`` batch, ``C`` input channels of the profile, ``H``/``W`` divisible by 8):

- input ``(N, C, H, W)`` float32, from :func:`satwatch.detection.profiles.model_input`;
- ``heat``   ``(N, P, H/2, W/2)`` logits of object centres, one channel per point class;
- ``offset`` ``(N, 2, H/2, W/2)`` centre position inside its 2 x 2 cell, (dx, dy) in input pixels, 0..2;
- ``size``   ``(N, 2, H/2, W/2)`` log(1 + length_m), log(1 + width_m) (metres, so resolution independent);
- ``angle``  ``(N, 2, H/2, W/2)`` (sin 2t, cos 2t) of the long axis' heading t (clockwise from grid north);
- ``mask``   ``(N, M, H/2, W/2)`` logits of area classes (M may be 0).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional
from torchvision.ops.misc import Conv2dNormActivation

__all__ = ["CenterNet", "NetOutput"]

NetOutput = dict[str, torch.Tensor]
"""Network outputs by head name: ``heat``, ``offset``, ``size``, ``angle``, ``mask``."""


def _block(c_in: int, c_out: int, stride: int = 1) -> Conv2dNormActivation:
    return Conv2dNormActivation(c_in, c_out, kernel_size=3, stride=stride, norm_layer=nn.BatchNorm2d,
                                activation_layer=nn.ReLU)


class CenterNet(nn.Module):
    """Small U-Net encoder-decoder with CenterNet heads at output stride 2.

    Args:
        in_channels: input channels (profile bands + validity mask).
        point_classes: number of heatmap channels.
        mask_classes: number of mask channels (0 for none).
        widths: channels at strides 2, 4 and 8.
    """

    def __init__(self, in_channels: int, point_classes: int, mask_classes: int,
                 widths: tuple[int, int, int] = (24, 48, 64)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.widths = widths
        self.point_classes = point_classes
        self.mask_classes = mask_classes
        self.stem = nn.Sequential(_block(in_channels, 16), _block(16, w1, 2), _block(w1, w1))
        self.down2 = nn.Sequential(_block(w1, w2, 2), _block(w2, w2))
        self.down3 = nn.Sequential(_block(w2, w3, 2), _block(w3, w3), _block(w3, w3))
        self.up2 = _block(w3 + w2, w2)
        self.up1 = nn.Sequential(_block(w2 + w1, 32), _block(32, 32))
        self.heat = nn.Conv2d(32, point_classes, 1)
        self.regress = nn.Conv2d(32, 6, 1)
        self.mask = nn.Conv2d(32, mask_classes, 1) if mask_classes else None
        # CenterNet's prior: start the heatmap near 0.01 so the focal loss is stable from the first step.
        assert self.heat.bias is not None
        nn.init.constant_(self.heat.bias, -4.6)

    def forward(self, x: torch.Tensor) -> NetOutput:
        """Run the network; see the module docstring for shapes."""
        a = self.stem(x)
        b = self.down2(a)
        c = self.down3(b)
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
