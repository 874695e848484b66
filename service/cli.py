"""The `paperlens` command line. Library errors become one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from collections.abc import Sequence

from indexer.errors import PaperlensError, UnknownPaper
from indexer.readers import FORMATS
from models import DEFAULT_MODEL, UnknownModel
from service import __version__

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (PaperlensError, UnknownModel) as error:
        print(f"paperlens: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("paperlens: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperlens", description="Semantic search and recommendations for research papers.")
    parser.add_argument("--version", action="version", version=f"paperlens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build (or --update) an index folder from paper sources")
    index.add_argument("sources", nargs="+", metavar="SOURCE", help="JSON Lines (.gz), CSV, Parquet, arXiv snapshot, BibTeX or Daily Papers text")
    index.add_argument("--index", required=True, metavar="DIR")
    index.add_argument("--model", default=None, metavar="NAME_OR_PATH", help=f"sentence-transformers model (default {DEFAULT_MODEL})")
    index.add_argument("--format", choices=FORMATS, default=None, help="source format (default: detected)")
    index.add_argument("--update", action="store_true", help="add or replace these papers in the existing index")
    index.add_argument("--batch-size", type=int, default=64)
    index.add_argument("--no-progress", action="store_true")
    index.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="embed on the Ray cluster at ADDRESS ('auto': the one this machine belongs to)")
    index.add_argument("--ray-actors", type=_positive, default=None, metavar="N",
                       help="encoder actors on the cluster (default: one per GPU, else one per CPU)")
    index.set_defaults(run=_index)

    serve = commands.add_parser("serve", help="serve the HTTP API and web page",
                                description="Other settings come from PAPERLENS_* variables (see the README): "
                                "PAPERLENS_ADMIN_KEY, PAPERLENS_RATE_LIMIT, PAPERLENS_CORS_ORIGINS, ...")
    serve.add_argument("--index", required=True, metavar="DIR")
    serve.add_argument("--host", default=os.environ.get("PAPERLENS_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PAPERLENS_PORT", "8000")))
    serve.add_argument("--users", default=os.environ.get("PAPERLENS_USERS"), metavar="URL",
                       help="user store: a SQLite path or postgresql://... (default: users.sqlite in the index folder)")
    serve.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="serve with Ray Serve on the cluster at ADDRESS ('auto': the one this machine belongs to)")
    serve.add_argument("--replicas", type=_positive, default=int(os.environ.get("PAPERLENS_REPLICAS", "1")), metavar="N",
                       help="Ray Serve replicas, each with the whole index (with --ray; default 1)")
    serve.set_defaults(run=_serve)

    delete = commands.add_parser("delete", help="remove papers from an index (served ones pick it up within seconds)")
    delete.add_argument("paper_ids", nargs="+", metavar="ID")
    delete.add_argument("--index", required=True, metavar="DIR")
    delete.set_defaults(run=_delete)

    compact = commands.add_parser("compact", help="fold the changes made since the last build into a new generation")
    compact.add_argument("--index", required=True, metavar="DIR")
    compact.set_defaults(run=_compact)

    check = commands.add_parser("check", help="verify an index folder (manifest, files, journal checksums); "
                                "exit 2 when damaged")
    check.add_argument("--index", required=True, metavar="DIR")
    check.add_argument("--repair", action="store_true",
                       help="keep every intact journal batch and move the damaged lines aside into a file it names")
    check.set_defaults(run=_check)

    search = commands.add_parser("search", help="papers for a natural-language query")
    search.add_argument("text", metavar="TEXT", nargs="?", default=None,
                        help="the query: words, or a pasted abstract or paragraph (or use --file)")
    search.add_argument("--file", metavar="PATH", default=None,
                        help="read the query from a file (a draft's paragraph, an abstract); - reads standard input")
    search.add_argument("--mode", choices=("hybrid", "semantic", "keyword"), default="hybrid")
    _add_list_options(search)
    search.set_defaults(run=_search)

    similar = commands.add_parser("similar", help="papers like the given one")
    similar.add_argument("paper_id", metavar="ID")
    _add_list_options(similar)
    similar.set_defaults(run=_similar)

    recommend = commands.add_parser("recommend", help="papers for someone who liked (and disliked) these")
    recommend.add_argument("--like", nargs="+", required=True, metavar="ID")
    recommend.add_argument("--dislike", nargs="+", default=[], metavar="ID")
    _add_list_options(recommend)
    recommend.set_defaults(run=_recommend)

    evaluate = commands.add_parser("eval", help="relevance of paperlens and baselines on a judged set")
    evaluate.add_argument("dataset", metavar="DATASET", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv "
                          "(for --task titles: any paper source; each sampled paper's title must find it)")
    evaluate.add_argument("--task", choices=("search", "similar", "recommend", "titles"), required=True)
    evaluate.add_argument("--sample", type=int, default=1000, help="papers whose titles are queried (--task titles)")
    evaluate.add_argument("--model", default=None, metavar="NAME_OR_PATH")
    evaluate.add_argument("--cache", default="var/eval", metavar="DIR", help="where the corpus index is kept between runs")
    evaluate.set_defaults(run=_evaluate)
    return parser


def _add_list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, metavar="DIR")
    parser.add_argument("-k", type=_k, default=10, help="number of results (1-100)")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--category", action="append", default=[])
    parser.add_argument("--author", default=None)
    parser.add_argument("--since", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON, like the API")


def _k(value: str) -> int:
    k = int(value)
    if not 1 <= k <= 100:
        raise argparse.ArgumentTypeError("k must be between 1 and 100")
    return k


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _index(args: argparse.Namespace) -> int:
    progress = False if args.no_progress else None
    if args.ray:
        return _index_on_cluster(args, progress)
    if args.ray_actors:
        raise PaperlensError("--ray-actors needs --ray ADDRESS")
    from functools import partial

    from indexer.build import build_index
    from models import load_encoder

    encoder = partial(load_encoder, args.model, batch_size=args.batch_size)  # loaded after the sources are read
    summary = build_index(args.sources, args.index, encoder, format=args.format, update=args.update, progress=progress)
    print(summary.line())
    return 0


def _index_on_cluster(args: argparse.Namespace, progress: bool | None) -> int:
    from indexer.distributed import build_index_on_cluster

    summary, pool = build_index_on_cluster(args.sources, args.index, args.ray, model=args.model, actors=args.ray_actors,
                                           format=args.format, update=args.update, batch_size=args.batch_size,
                                           progress=progress)
    print(f"{summary.line()}; embedded by {pool.describe()} on the Ray cluster at {args.ray}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from indexer.store import read_manifest
    from service.settings import load_settings, served_hosts

    manifest = read_manifest(args.index)  # fail here, with one line, rather than serve 503 forever
    overrides = {"users": args.users} if args.users else {}
    settings = load_settings(index_dir=args.index, host=args.host, port=args.port, **overrides)
    settings = settings.model_copy(update={"allowed_hosts": served_hosts(settings.allowed_hosts, args.host)})
    from indexer.store import users_database
    from service.users import open_user_store

    open_user_store(settings.users or str(users_database(args.index))).close()  # a bad --users fails here, in one line
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    if not settings.admin_key and not loopback:
        raise PaperlensError(f"refusing to listen on {args.host} without PAPERLENS_ADMIN_KEY: write calls would be open "
                             "to the network; set a key, or serve on 127.0.0.1")
    security = ("write calls need the admin key" if settings.admin_key
                else "no PAPERLENS_ADMIN_KEY: listening on 127.0.0.1 only, write calls open to local users")
    print(f"paperlens: serving {manifest.count} papers ({manifest.model}) on http://{args.host}:{args.port} ({security})",
          file=sys.stderr, flush=True)
    from service.observability import log_to

    log_to(sys.stderr)
    if args.ray:
        from service.ray_serve import serve_on_cluster

        serve_on_cluster(settings, args.ray, args.replicas)
        return 0
    from service.engine import SearchEngine, one_core_per_computation

    one_core_per_computation()
    loading = SearchEngine.load_in_background(args.index, settings.query_cache_size)  # while the web stack imports
    import uvicorn

    from service.app import create_app

    # X-Forwarded-For names the client only when a configured proxy sent it (uvicorn's default
    # trusts it from loopback, which would let any local client choose its rate-limit bucket).
    uvicorn.run(create_app(settings, loading=loading), host=args.host, port=args.port, log_level="warning",
                access_log=False, proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None)
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
    import time

    from indexer.live import compact

    started = time.perf_counter()
    papers, dropped = compact(args.index)
    print(f"compacted {args.index}: {papers} papers, dead rows dropped: {dropped}, in {time.perf_counter() - started:.1f}s")
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


def _engine(args: argparse.Namespace):
    from service.engine import SearchEngine

    return SearchEngine.load(args.index)


def _filters(args: argparse.Namespace):
    from service.filters import Filters

    return Filters.from_arguments(args.category, args.author, args.since, args.until)


def _search(args: argparse.Namespace) -> int:
    from service import ranking

    args.text = _query_text(args)
    engine = _engine(args)
    mode = ranking.SearchMode(args.mode)
    vector = engine.embed_query(args.text) if mode is not ranking.SearchMode.keyword else None
    hits = ranking.search(engine.index, args.text, vector, args.k, args.offset, mode, _filters(args))
    return _print(engine, hits, args, {"query": args.text, "mode": args.mode})


def _query_text(args: argparse.Namespace) -> str:
    """The query from TEXT, or from --file (a path, or - for standard input), never both."""
    if (args.text is None) == (args.file is None):
        raise PaperlensError("give the query as TEXT or with --file PATH (- for standard input), not both")
    if args.file is None:
        text = args.text
    elif args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PaperlensError(f"{args.file}: cannot read the query ({error})") from None
    if not text.strip():
        raise PaperlensError("the query is empty")
    return text


def _similar(args: argparse.Namespace) -> int:
    from service import ranking

    engine = _engine(args)
    hits = ranking.similar(engine.index, engine.index.row_of(args.paper_id), args.k, args.offset, _filters(args))
    return _print(engine, hits, args, {"paper_id": args.paper_id})


def _recommend(args: argparse.Namespace) -> int:
    from service import ranking

    engine = _engine(args)
    hits, unknown = ranking.recommend_ids(engine.index, args.like, args.dislike, args.k, args.offset, _filters(args))
    if unknown:
        print(f"paperlens: ignored unknown ids: {', '.join(unknown)}", file=sys.stderr)
    return _print(engine, hits, args, {"unknown_ids": unknown})


def _evaluate(args: argparse.Namespace) -> int:
    from models import load_encoder
    from service import evaluation

    if args.task == "titles":
        dataset = evaluation.title_queries(args.dataset, args.sample)
    else:
        dataset = evaluation.load_dataset(args.dataset)
    encoder = load_encoder(args.model)
    index = evaluation.cached_index(dataset, encoder, Path(args.cache))
    results = evaluation.evaluate(dataset, args.task, index, encoder)
    print(evaluation.format_table(dataset, args.task, results))
    return 0


def _print(engine, hits, args: argparse.Namespace, extra: dict) -> int:
    from service.routes.papers import paper_list

    papers = paper_list(engine, hits)
    if args.json:
        body = {"results": [p.model_dump() for p in papers], "k": args.k, "offset": args.offset, **extra}
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for rank, paper in enumerate(papers, start=args.offset + 1):
        authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        print(f"{rank:3d}. [{paper.score:.3f}] {paper.title}")
        print(f"     {paper.id} · {paper.published or 'n.d.'} · {authors}")
        if paper.because:
            print(f"     because {', '.join(paper.because)}" + (f" (shared: {', '.join(paper.shared_terms)})" if paper.shared_terms else ""))
    if not papers:
        print("no papers found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
