"""Int8 CPU inference: a :class:`~satwatch.detection.models.network.CenterNet` exported to ONNX and quantised.

On a CPU the network is most of the detector's time, and 8-bit integer convolutions (ONNX Runtime's MLAS
kernels) run it about 3x faster than float32 PyTorch (``benchmarks/bench_detector.py``). The quantised model is
made from the shipped float weights by :func:`export_int8` (``scripts/quantize_detector.py``) and shipped
beside them as ``models/<profile>.int8.onnx``:

- static quantisation, QDQ format: weights int8 per output channel, activations uint8 per tensor with ranges
  calibrated (percentile 99.999) on tiles of *training* scenes (never the held-out ones);
- the 1 x 1 output heads stay float32 (they are cheap, and the heatmap logits decide what is reported);
- the file records the SHA-256 of the float weights it was made from (``satwatch_source_sha256``): a
  quantised model that no longer matches its weights is never used (:func:`load_int8`).

Tensor shapes are the network's (see :mod:`satwatch.detection.models.network`): input ``(N, C, H, W)`` float32 with
``H`` and ``W`` divisible by 16; outputs ``heat``, ``offset``, ``size``, ``angle``, ``mask`` at stride 2.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from satwatch.atomic import atomic_path
from satwatch.detection.models.network import CenterNet, NetOutput
from satwatch.errors import DetectionError

__all__ = ["INT8_SUFFIX", "QuantizedNet", "export_int8", "int8_path", "load_int8"]

log = logging.getLogger(__name__)

INT8_SUFFIX = ".int8.onnx"
"""File name suffix of a profile's quantised model (``models/s2.int8.onnx``)."""
_OUTPUTS = ("heat", "offset", "size", "angle", "mask")
_HEAD_NODES = {"/net/heat/Conv", "/net/regress/Conv", "/net/mask/Conv"}
"""ONNX names of the 1 x 1 output convolutions (the exporter names nodes by module path), kept float32."""


def int8_path(models_dir: Path, profile: str) -> Path:
    """Where the quantised model of ``profile`` lives."""
    return models_dir / f"{profile}{INT8_SUFFIX}"


class _Export(nn.Module):
    """The network with tuple outputs (ONNX has no dict outputs)."""

    def __init__(self, net: CenterNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x)
        return tuple(out[k] for k in _OUTPUTS[: 4 + (self.net.mask_classes > 0)])


class QuantizedNet:
    """An int8 network callable like a :class:`CenterNet` in eval mode.

    ``(N, C, H, W)`` float32 tensor in, :data:`NetOutput` (float32 CPU tensors) out.

    Args:
        path: the ``.int8.onnx`` file.
        threads: intra-op threads (default: torch's, so ``torch.set_num_threads`` and ``OMP_NUM_THREADS`` apply).
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise
        # no spin-waiting between runs: the tile reader and the decoding (torch) need the cores then; on 2 cores
        # spinning threads made whole-scene detection ~20% slower (same process, same scene, 4 runs each)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
            raise DetectionError(f"{path} is not a usable quantised model: {exc}") from exc
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.mask_classes = int(self.metadata.get("satwatch_mask_classes", "0"))

    def __call__(self, x: torch.Tensor) -> NetOutput:
        """Run the quantised network on ``x`` (any memory layout)."""
        arrays = self.session.run(None, {"x": np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)})
        out = {name: torch.from_numpy(a) for name, a in zip(self.output_names, arrays, strict=True)}
        if "mask" not in out:
            heat = out["heat"]
            out["mask"] = heat.new_zeros((heat.shape[0], 0, heat.shape[2], heat.shape[3]))
        return out


def load_int8(path: Path, source_sha256: str) -> QuantizedNet | None:
    """Load the quantised model at ``path`` if it was made from the weights with SHA-256 ``source_sha256``.

    Returns None (and logs why) when the file is absent or stale (made from other weights), or when
    onnxruntime is not installed (the float network then runs).

    Raises:
        DetectionError: the file exists but onnxruntime cannot load it.
    """
    if not path.is_file():
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("onnxruntime is not installed, so %s is not used; using float32 (pip install -e .)", path)
        return None
    net = QuantizedNet(path)
    made_from = net.metadata.get("satwatch_source_sha256")
    if made_from != source_sha256:
        log.warning("%s was made from other weights (%s, not %s); using float32. Remake it with "
                    "scripts/quantize_detector.py", path, (made_from or "unknown")[:10], source_sha256[:10])
        return None
    return net


class _Calibration:
    """onnxruntime's calibration reader over a sequence of ``(C, H, W)`` network inputs."""

    def __init__(self, tiles: Sequence[npt.NDArray[np.float32]]) -> None:
        self._it: Iterator[npt.NDArray[np.float32]] = iter(tiles)

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        tile = next(self._it, None)
        return None if tile is None else {"x": tile[None].astype(np.float32, copy=False)}


def export_int8(net: CenterNet, profile: str, source_sha256: str, calibration: Sequence[npt.NDArray[np.float32]],
                path: Path, note: str = "") -> Path:
    """Export ``net`` to ONNX, quantise it statically to int8 and write it to ``path`` atomically.

    Args:
        net: the float network (its weights are those hashed in ``source_sha256``); put in eval mode here.
        profile: its profile name (recorded in the file).
        source_sha256: SHA-256 of the weights file ``net`` was loaded from.
        calibration: ``(C, H, W)`` float32 network inputs (from :func:`~satwatch.detection.profiles.model_input`)
            of training scenes; activation ranges are taken over them.
        path: output ``.int8.onnx``.
        note: free text recorded in the file (e.g. what the calibration tiles were).

    Raises:
        DetectionError: no calibration tiles, or ``onnx`` (needed to quantise, not to run) is not installed.
    """
    if not calibration:
        raise DetectionError("int8 export needs at least one calibration tile")
    try:
        import onnx
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise DetectionError(f"int8 export needs the onnx package (pip install -e '.[dev]'): {exc}") from exc
    net = net.eval()
    example = torch.from_numpy(np.asarray(calibration[0], dtype=np.float32)[None])
    names = list(_OUTPUTS[: 4 + (net.mask_classes > 0)])
    with tempfile.TemporaryDirectory() as tmp:
        plain, pre, quant = Path(tmp) / "plain.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "quant.onnx"
        # The TorchScript-based exporter: it needs no onnxscript and exports this plain convolutional graph
        # exactly; torch 2.14 (pinned) warns that a later release drops it.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(_Export(net), (example,), str(plain), dynamo=False, opset_version=17,
                              input_names=["x"], output_names=names,
                              dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}})
        quant_pre_process(str(plain), str(pre))
        heads = [n.name for n in onnx.load(str(pre)).graph.node if n.name in _HEAD_NODES]
        quantize_static(str(pre), str(quant), _Calibration(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=heads,
                        extra_options={"CalibPercentile": 99.999})
        model = onnx.load(str(quant))
        meta = {"satwatch_profile": profile, "satwatch_source_sha256": source_sha256,
                "satwatch_mask_classes": str(net.mask_classes), "satwatch_calibration": note,
                "satwatch_float_heads": ",".join(heads)}
        for key, value in meta.items():
            prop = model.metadata_props.add()
            prop.key, prop.value = key, value
        with atomic_path(path) as out:
            onnx.save(model, str(out))
    return path
