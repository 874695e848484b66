"""The `paperlens` command line: the parser, and library errors turned into one line at the edge.

The commands live beside it by side of the house: `indexing.py` is the indexer's front (`index`,
`delete`, `compact`, `check`), `querying.py` the service's (`serve`, `search`, `similar`,
`recommend`), `evaluating.py` is `paperlens eval`. Each adds its commands to the parser; a library
error (a PaperlensError or UnknownModel) becomes `paperlens: error: ...` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from indexer.errors import PaperlensError
from models import UnknownModel
from service import __version__
from service.cli import evaluating, indexing, querying
from service.cli.arguments import EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (PaperlensError, UnknownModel) as error:
        print(f"paperlens: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("paperlens: interrupted", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperlens",
                                     description="Semantic search and recommendations for research papers.")
    parser.add_argument("--version", action="version", version=f"paperlens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for side in (indexing, querying, evaluating):
        side.add_commands(commands)
    return parser
