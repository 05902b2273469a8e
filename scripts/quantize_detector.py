"""Make ``models/<profile>.int8.onnx``, the int8 CPU model, from the shipped float weights.

Calibration tiles come from training data only: ``--tiles`` crops of the network input (512 px, or the whole
scene when smaller), spread over the sen2ships training ports (s2; never the held-out ports), the real
training images (vhr: the aerial training sequences) and ``--simulated`` scenes of ``scenarios/train.yaml``;
crops are drawn with ``--seed`` and half of them are centred
on a labelled object so that bright targets set the activation ranges too. Then measure the result with
``scripts/validate_detector.py --profile s2 --precision int8`` (model card: models/<profile>.md).

Run: ``.venv/bin/python scripts/quantize_detector.py --profile s2`` (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.data.samples import Sample
from satwatch.detection.data.sen2ships import port_names
from satwatch.detection.data.splits import HOLDOUT_PORTS
from satwatch.detection.data.training_data import port_sample, real_training_samples, simulated_samples
from satwatch.detection.models.cnn import MODELS_DIR, load_model
from satwatch.detection.models.quantized import export_int8, int8_path
from satwatch.detection.profiles import PROFILES, Profile, model_input


def calibration_tiles(samples: list[Sample], profile: Profile, count: int, size: int,
                      seed: int) -> list[np.ndarray]:
    """``count`` network-input crops of ``size`` x ``size`` px, round-robin over ``samples`` (a scene smaller than
    ``size`` is padded with zeros, the network input of no-data pixels)."""
    rng = np.random.default_rng(seed)
    profile_inputs = [(s, model_input(s.raw, s.names, profile)) for s in samples]
    tiles = []
    for i in range(count):
        sample, x = profile_inputs[i % len(profile_inputs)]
        h, w = x.shape[1:]
        th, tw = min(size, h // 16 * 16), min(size, w // 16 * 16)
        if i % 2 and len(sample.points):  # centred on an object
            cx, cy = sample.points[rng.integers(len(sample.points)), :2]
            r0, c0 = int(np.clip(cy - th / 2, 0, h - th)), int(np.clip(cx - tw / 2, 0, w - tw))
        else:
            r0, c0 = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        tile = np.zeros((x.shape[0], size, size), dtype=np.float32)  # zeros: what no-data pixels are
        tile[:, :th, :tw] = x[:, r0:r0 + th, c0:c0 + tw]
        tiles.append(tile)
    return tiles


def main(argv: list[str] | None = None) -> int:
    """Write the quantised model; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=sorted(PROFILES))
    ap.add_argument("--tiles", type=int, default=48, help="calibration crops (default 48)")
    ap.add_argument("--simulated", type=int, default=8, help="simulated training scenes to crop from (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="default models/<profile>.int8.onnx")
    args = ap.parse_args(argv)
    profile = PROFILES[args.profile]
    loaded = load_model(args.profile, device="cpu", precision="fp32")
    samples = simulated_samples(profile, "scenarios/train.yaml", limit=args.simulated,
                                progress=lambda i, n: print(f"rendered {i}/{n} simulated scenes", flush=True))
    ports: list[str] = []
    if profile.name == "s2":
        ports = [p for p in port_names() if p not in HOLDOUT_PORTS]
        samples += [port_sample(p, profile) for p in ports]
    real = real_training_samples(profile)  # vhr: the real aerial training sequences (never the validation ones)
    samples += real
    tiles = calibration_tiles(samples, profile, args.tiles, profile.tile_px, args.seed)
    note = (f"{len(tiles)} crops (seed {args.seed}) of {args.simulated} simulated training scenes"
            + (f" and the sen2ships training ports {', '.join(ports)}" if ports else "")
            + (f" and {len(real)} real training images" if real else ""))
    assert isinstance(loaded.net, torch.nn.Module)
    out = export_int8(loaded.net, args.profile, loaded.sha256, tiles, args.out or int8_path(MODELS_DIR, args.profile),
                      note=note)
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB; calibration: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
