"""Argument types and the exit status the command modules share."""

from __future__ import annotations

import argparse

from service.schemas import MAX_K

EXIT_BAD_INPUT = 2


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
