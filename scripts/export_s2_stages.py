"""Write the two samples files the shipped ``s2`` weights were trained on (models/s2.md, "Training").

Stage 1: simulated scenes 0, 5, 10, ... of ``scenarios/train.yaml`` (22 of 109) and the 8 sen2ships training
ports; stage 2: scenes 2, 7, 12, ... and the same ports. Each file stays under the 64 MB a GPU machine of this
project receives (all 109 scenes would be about 170 MB).

Run: ``.venv/bin/python scripts/export_s2_stages.py OUT_DIR`` (about 4 minutes: rendering and LZMA).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.data.samples import save_samples
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.train import TrainConfig, make_samples


def main(argv: list[str] | None = None) -> int:
    """Write ``OUT_DIR/s2_stage1.npz`` and ``OUT_DIR/s2_stage2.npz``; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    profile = PROFILES["s2"]
    pools = make_samples(TrainConfig(profile="s2"), print)
    sim, real = pools["simulated"], pools["real"]
    for stage, offset in ((1, 0), (2, 2)):
        path = save_samples({"simulated": sim[offset::5], "real": real}, profile,
                            args.out_dir / f"s2_stage{stage}.npz")
        print(f"{path}: {len(sim[offset::5])} simulated scenes, {len(real)} ports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
