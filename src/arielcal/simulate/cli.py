"""The ``arielcal-simulate`` command line."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import InputError
from .config import SimulationConfig
from .sky import planets
from .writer import write_planet, write_tables


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arielcal-simulate", description="Write a simulated Ariel dataset in the competition layout.")
    parser.add_argument("--out", required=True, help="dataset root to write")
    parser.add_argument("--edition", type=int, help="2024 (default) or 2025 layout")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--train-planets", type=int)
    parser.add_argument("--test-planets", type=int)
    parser.add_argument("--two-visit-planets", type=int, help="2025 only: planets with a second visit")
    parser.add_argument("--airs-frames", type=int, help="even; default 11250")
    parser.add_argument("--fgs1-frames", type=int, help="even; default 12 x AIRS frames")
    parser.add_argument("--noiseless", action="store_true", help="no shot or read noise (still ADC-rounded)")
    parser.add_argument("--no-nonlinearity", action="store_true", help="a linear detector")
    parser.add_argument("--realistic", action="store_true", help="every systematic below on, unless --no-<it>")
    switch = argparse.BooleanOptionalAction
    parser.add_argument("--jitter", action=switch, help="sub-pixel pointing jitter")
    parser.add_argument("--drift", action=switch, help="slow multiplicative drift")
    parser.add_argument("--limb-darkening", action=switch, help="quadratically limb-darkened transits")
    parser.add_argument("--cosmic-rays", action=switch, help="cosmic-ray hits")
    parser.add_argument("--saturation", action=switch, help="stars whose brightest pixels reach the ADC ceiling")
    parser.add_argument("--grazing-fraction", type=float, help="fraction of grazing transits (0.25 with --realistic)")
    parser.add_argument("--cosmic-ray-rate", type=float, help="hits per pixel per second (default 2e-5)")
    parser.add_argument("--saturation-level", type=float, help="brightest long read / ADC ceiling (default 1)")
    parser.add_argument("--hot-fraction", type=float)
    parser.add_argument("--dead-fraction", type=float)
    return parser


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    settings = {
        name: getattr(args, name)
        for name in (
            "edition",
            "seed",
            "train_planets",
            "test_planets",
            "two_visit_planets",
            "airs_frames",
            "fgs1_frames",
            "hot_fraction",
            "dead_fraction",
            "jitter",
            "drift",
            "limb_darkening",
            "cosmic_rays",
            "saturation",
            "grazing_fraction",
            "cosmic_ray_rate",
            "saturation_level",
        )
        if getattr(args, name) is not None
    }
    flags = {"noise": not args.noiseless, "nonlinearity": not args.no_nonlinearity, "realistic": args.realistic}
    try:
        cfg = SimulationConfig.from_mapping({**settings, **flags})
        write_tables(cfg, args.out)
        for split, planet_id, _ in planets(cfg):
            started = time.perf_counter()
            write_planet(cfg, args.out, split, planet_id)
            print(f"{split}/{planet_id}: {time.perf_counter() - started:.1f} s", flush=True)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    return 0
