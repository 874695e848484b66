"""The indexer's front on the command line: `index`, `delete`, `compact`, `export` and `check`.

These commands write or verify an index folder; they import `indexer` (and `models` to embed),
never the serving modules.
"""

from __future__ import annotations

import argparse
import sys
import time

from indexer.errors import PaperlensError, UnknownPaper
from indexer.export import DTYPES
from indexer.readers import FORMATS
from indexer.vectors import EMBEDDING_COLUMN, TITLE_EMBEDDING_COLUMN
from models import DEFAULT_MODEL
from service.cli.arguments import EXIT_BAD_INPUT, add_ray_option, add_runtime_option, encoder_settings_from


def add_commands(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="build (or --update) an index folder from paper sources")
    index.add_argument("sources", nargs="+", metavar="SOURCE",
                       help="JSON Lines (.gz), CSV, Parquet, arXiv snapshot, BibTeX or Daily Papers text")
    index.add_argument("--index", required=True, metavar="DIR")
    index.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                       help=f"sentence-transformers model (default {DEFAULT_MODEL})")
    index.add_argument("--format", choices=FORMATS, default=None, help="source format (default: detected)")
    index.add_argument("--update", action="store_true", help="add or replace these papers in the existing index")
    index.add_argument("--strict", action="store_true",
                       help="stop at a library entry (BibTeX, RIS, CSL-JSON) that is not a paper, instead of skipping "
                       "and listing it")
    index.add_argument("--batch-size", type=int, default=64)
    index.add_argument("--no-progress", action="store_true")
    vectors = index.add_argument_group(
        "given vectors", "vectors that come with the papers are used as they are (checked against the model on a "
        "sample); the papers without one are embedded")
    vectors.add_argument("--embedding-column", default=None, metavar="NAME",
                         help=f"column of a Parquet or JSON Lines source with each paper's vector (default: "
                         f"'{EMBEDDING_COLUMN}' where a source has it)")
    vectors.add_argument("--title-embedding-column", default=None, metavar="NAME",
                         help=f"column with each title's vector (default: '{TITLE_EMBEDDING_COLUMN}' where a source "
                         "has it; otherwise titles are embedded, a second or two a thousand)")
    vectors.add_argument("--vectors", default=None, metavar="FILE.npy",
                         help="a .npy array with one row per record of the (one) source, in its order")
    vectors.add_argument("--title-vectors", default=None, metavar="FILE.npy", help="the same for the titles")
    add_runtime_option(index)
    add_ray_option(index, "embed", "--ray-actors", "encoder actors on the cluster (default: one per GPU, else one "
                   "per CPU)")
    index.set_defaults(run=_index)

    delete = commands.add_parser("delete", help="remove papers from an index (served ones pick it up within seconds)")
    delete.add_argument("paper_ids", nargs="+", metavar="ID")
    delete.add_argument("--index", required=True, metavar="DIR")
    delete.set_defaults(run=_delete)

    compact = commands.add_parser("compact", help="fold the changes made since the last build into a new generation")
    compact.add_argument("--index", required=True, metavar="DIR")
    compact.set_defaults(run=_compact)

    export = commands.add_parser("export", help="write every paper of an index with its metadata and vectors to a "
                                 "Parquet file (`paperlens index` reads it back without embedding)")
    export.add_argument("out", metavar="OUT.parquet")
    export.add_argument("--index", required=True, metavar="DIR")
    export.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the vectors' type in the file (float16: half the size, top 10 unchanged)")
    export.set_defaults(run=_export)

    check = commands.add_parser("check", help="verify an index folder (manifest, files, journal checksums); "
                                "exit 2 when damaged")
    check.add_argument("--index", required=True, metavar="DIR")
    check.add_argument("--repair", action="store_true",
                       help="keep every intact journal batch and move the damaged lines aside into a file it names")
    check.set_defaults(run=_check)


def _index(args: argparse.Namespace) -> int:
    progress = False if args.no_progress else None
    settings = encoder_settings_from(args)
    if args.ray:
        return _index_on_cluster(args, progress, settings.bf16)
    if args.ray_actors:
        raise PaperlensError("--ray-actors needs --ray ADDRESS")
    from functools import partial

    from indexer.build import build_index
    from models import load_encoder

    # loaded after the sources are read, so a bad source fails before the model loads
    encoder = partial(load_encoder, args.model, batch_size=args.batch_size, bf16=settings.bf16,
                      runtime=settings.runtime, cache=settings.encoder_cache)
    summary = build_index(args.sources, args.index, encoder, format=args.format, update=args.update,
                          progress=progress, vectors=_vector_options(args), strict=args.strict)
    print("\n".join([summary.line(), *summary.skipped_lines()]))
    return 0


def _vector_options(args: argparse.Namespace):
    from indexer.vectors import VectorOptions

    return VectorOptions(column=args.embedding_column, title_column=args.title_embedding_column,
                         vectors=args.vectors, title_vectors=args.title_vectors)


def _export(args: argparse.Namespace) -> int:
    from indexer.export import export_index

    print(export_index(args.index, args.out, dtype=args.dtype).line())
    return 0


def _index_on_cluster(args: argparse.Namespace, progress: bool | None, bf16: bool | None) -> int:
    from indexer.distributed import build_index_on_cluster

    summary, pool = build_index_on_cluster(args.sources, args.index, args.ray, model=args.model,
                                           actors=args.ray_actors, format=args.format, update=args.update,
                                           batch_size=args.batch_size, progress=progress, bf16=bf16,
                                           vectors=_vector_options(args), strict=args.strict)
    print("\n".join([summary.line(), *summary.skipped_lines(),
                     f"embedded by {pool.describe()} on the Ray cluster at {args.ray}"]))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from indexer.live import LiveIndex

    live = LiveIndex(args.index)
    unknown = [paper_id for paper_id in args.paper_ids if paper_id not in live.index]
    if unknown:
        raise UnknownPaper(unknown[0])
    index = live.apply(deletes=args.paper_ids)
    print(f"deleted {len(args.paper_ids)} papers from {args.index}; {index.live_count} remain")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from indexer.live import compact

    started = time.perf_counter()
    papers, dropped = compact(args.index)
    print(f"compacted {args.index}: {papers} papers, dead rows dropped: {dropped}, "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


def _check(args: argparse.Namespace) -> int:
    from indexer.store import check_index

    report = check_index(args.index)
    for problem in report.problems:
        print(problem)
    if args.repair and report.damaged_journal_lines:
        report = _repair(args.index)
    if report.healthy:
        print(f"ok: {report.summary}")
        return 0
    hint = ""
    if report.damaged_journal_lines:
        hint = f"; `paperlens check --index {args.index} --repair` fixes the journal"
    print(f"paperlens: {args.index} is damaged (problems: {len(report.problems)}){hint}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _repair(index: str):
    from indexer.store import check_index, repair_journal

    repair = repair_journal(index)
    if repair is not None:
        print(f"repaired: {repair.damaged}'s journal: intact batches kept, in order, in {repair.generation}: "
              f"{repair.kept}; lines set aside: {repair.set_aside}, their bytes as they were, in {repair.aside}")
    report = check_index(index)
    for problem in report.problems:
        print(problem)
    return report
