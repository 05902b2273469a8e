"""``satwatch train``: train the CNN detector of one profile (``satwatch.detection.training.train``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from satwatch.cli._common import SENSORS, Subparsers, existing_file

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``train`` command to ``sub``."""
    trn = sub.add_parser("train", help="train the CNN detector of one profile (writes models/<profile>.pt)")
    trn.add_argument("--profile", required=True, choices=SENSORS)
    trn.add_argument("--epochs", type=int, default=16)
    trn.add_argument("--steps-per-epoch", type=int, default=50)
    trn.add_argument("--batch-size", type=int, default=10)
    trn.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    trn.add_argument("--seed", type=int, default=0)
    trn.add_argument("--real-fraction", type=float, default=0.5,
                     help="share of crops from real data (s2: sen2ships training ports and EOTDL chips; s1: real "
                     "OpenSARShip ships pasted onto simulated sea; vhr: aerial training sequences; default 0.5)")
    trn.add_argument("--scenario", type=existing_file, default=Path("scenarios/train.yaml"),
                     help="simulated training scenario (default scenarios/train.yaml)")
    trn.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    trn.add_argument("--out", type=Path, help="weights file (default models/<profile>.pt)")
    trn.add_argument("--init", type=existing_file, help="weights to start from (fine-tuning)")
    trn.add_argument("--area-focus", type=float, default=0.5,
                     help="share of object-centred crops drawn around area objects (default 0.5)")
    trn.add_argument("--max-scenes", type=int, default=0,
                     help="render only this many simulated scenes, evenly spaced (default 0: all)")
    trn.add_argument("--workers", type=int, default=0, help="processes making batches (default 0: none)")
    trn.add_argument("--hard-negatives", action="store_true",
                     help="s2: centre a share of crops on the shipped detector's false alarms in the training ports "
                     "and make other ships of EOTDL chips don't-care")
    trn.add_argument("--paste-hulls", type=int, default=0, metavar="N",
                     help="s2: also train on a copy of each training port with N real hulls, cut out of the training "
                     "ports by their masks, pasted berthed along its quays (default 0: none)")
    trn.add_argument("--arch", choices=("v1", "v2"), default="",
                     help="network architecture (default: the profile's, v2 for s2, v1 for s1 and vhr)")
    trn.add_argument("--train-ports", help="s2: comma-separated sen2ships ports to train on (default: all but "
                     "the held-out ones)")
    trn_io = trn.add_mutually_exclusive_group()
    trn_io.add_argument("--export-samples", type=Path, metavar="FILE.npz",
                        help="render and read the training data, write it to FILE.npz and stop (to train on "
                        "a machine that has a GPU but not GDAL or the data)")
    trn_io.add_argument("--samples", type=existing_file, metavar="FILE.npz",
                        help="train on samples written by --export-samples instead of rendering them here")

    trn.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch train`` with the parsed ``args``; return the exit code."""
    from satwatch.detection.data.samples import load_samples, save_samples
    from satwatch.detection.profiles import PROFILES
    from satwatch.detection.training.train import TrainConfig, make_samples, train

    ports = tuple(p.strip() for p in args.train_ports.split(",") if p.strip()) if args.train_ports else ()
    cfg = TrainConfig(profile=args.profile, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                      batch_size=args.batch_size, lr=args.lr, seed=args.seed, real_fraction=args.real_fraction,
                      scenario=str(args.scenario), init=str(args.init) if args.init else None,
                      area_focus=args.area_focus, max_scenes=args.max_scenes, workers=args.workers, arch=args.arch,
                      train_ports=ports, hard_negatives=args.hard_negatives,
                      paste_hulls=args.paste_hulls)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    profile = PROFILES[args.profile]
    if args.export_samples:
        pools = make_samples(cfg, say)
        save_samples(pools, profile, args.export_samples)
        print(f"samples: {args.export_samples} ({', '.join(f'{len(v)} {k}' for k, v in pools.items())})")
        return 0
    samples = load_samples(args.samples, profile) if args.samples else None
    out = args.out
    if out is None:  # cnn.py needs GDAL: imported only when the default path is wanted
        from satwatch.detection.models.cnn import MODELS_DIR

        out = MODELS_DIR / f"{args.profile}.pt"
    train(cfg, out, device=args.device, log_every=say, samples=samples)
    print(f"weights: {out}")
    return 0
