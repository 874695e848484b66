"""Argument types and the exit status the command modules share."""

from __future__ import annotations

import argparse

from models.loading import RUNTIMES
from service.schemas import MAX_K

EXIT_BAD_INPUT = 2


def add_runtime_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="inference runtime for the encoder (PAPERLENS_RUNTIME; default auto: OpenVINO where the "
                        "model allows, bf16 on CPUs with AMX or AVX-512 BF16; torch otherwise)")


def encoder_settings_from(args: argparse.Namespace):
    """PAPERLENS_BF16 / _RUNTIME / _ENCODER_CACHE, with --runtime over the variable."""
    from models import encoder_settings

    return encoder_settings(**({"runtime": args.runtime} if args.runtime else {}))


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def list_size(value: str) -> int:
    k = int(value)
    if not 1 <= k <= MAX_K:
        raise argparse.ArgumentTypeError(f"k must be between 1 and {MAX_K}")
    return k


def add_ray_option(parser: argparse.ArgumentParser, purpose: str, workers: str, default: str) -> None:
    """--ray ADDRESS and the option sizing the work on the cluster (`workers`, e.g. --ray-actors)."""
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help=f"{purpose} on the Ray cluster at ADDRESS ('auto': the one this machine belongs to)")
    parser.add_argument(workers, type=positive, default=None, metavar="N", help=default)
