"""The service's front on the command line: `serve`, and the one-off `search`, `similar` and `recommend`.

The one-off calls rank with the same functions as the API (service.ranking) over the index folder
and print what the API would answer (`--json`) or a readable list.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from indexer.errors import PaperlensError
from service.cli.arguments import add_ray_option, add_runtime_option, list_size
from service.schemas import MAX_K


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the HTTP API and web page",
                                description="Other settings come from PAPERLENS_* variables (see the README): "
                                "PAPERLENS_ADMIN_KEY, PAPERLENS_RATE_LIMIT, PAPERLENS_CORS_ORIGINS, ...")
    serve.add_argument("--index", required=True, metavar="DIR")
    serve.add_argument("--host", default=None, help="address to listen on (PAPERLENS_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (PAPERLENS_PORT; default 8000)")
    serve.add_argument("--users", default=None, metavar="URL", help="user store: a SQLite path or postgresql://... "
                       "(PAPERLENS_USERS; default: users.sqlite in the index folder)")
    add_ray_option(serve, "serve with Ray Serve", "--replicas", "Ray Serve replicas, each with the whole index "
                   "(with --ray; PAPERLENS_REPLICAS, default 1)")
    add_runtime_option(serve)
    serve.set_defaults(run=_serve)

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


def _add_list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, metavar="DIR")
    parser.add_argument("-k", type=list_size, default=10, help=f"number of results (1-{MAX_K})")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--category", action="append", default=[])
    parser.add_argument("--author", default=None)
    parser.add_argument("--since", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--json", action="store_true", help="print the answer as JSON, like the API")


def _serve(args: argparse.Namespace) -> int:
    from indexer.store import read_manifest, users_database
    from service.settings import LOOPBACK_HOSTS, load_settings, served_hosts
    from service.users import open_user_store

    manifest = read_manifest(args.index)  # fail here, with one line, rather than serve 503 forever
    flags = {"host": args.host, "port": args.port, "users": args.users, "replicas": args.replicas,
             "runtime": args.runtime}
    given = {name: value for name, value in flags.items() if value is not None}
    settings = load_settings(index_dir=args.index, **given)
    settings = settings.model_copy(update={"allowed_hosts": served_hosts(settings.allowed_hosts, settings.host)})
    open_user_store(settings.users or str(users_database(args.index))).close()  # a bad --users fails here, in one line
    if not settings.admin_key and settings.host not in LOOPBACK_HOSTS:
        raise PaperlensError(f"refusing to listen on {settings.host} without PAPERLENS_ADMIN_KEY: write calls would "
                             "be open to the network; set a key, or serve on 127.0.0.1")
    security = ("write calls need the admin key" if settings.admin_key
                else "no PAPERLENS_ADMIN_KEY: listening on 127.0.0.1 only, write calls open to local users")
    print(f"paperlens: serving {manifest.count} papers ({manifest.model}) on http://{settings.host}:{settings.port} "
          f"({security})", file=sys.stderr, flush=True)
    from service.observability import log_to

    log_to(sys.stderr)
    if args.ray:
        from service.ray_serve import serve_on_cluster

        serve_on_cluster(settings, args.ray, settings.replicas)
        return 0
    _one_core_per_computation()
    from service.served import ServedIndex

    loading = ServedIndex.load_in_background(settings)  # while the web stack imports
    import uvicorn

    from service.app import create_app

    # X-Forwarded-For names the client only when a configured proxy sent it (uvicorn's default
    # trusts it from loopback, which would let any local client choose its rate-limit bucket).
    uvicorn.run(create_app(settings, loading=loading), host=settings.host, port=settings.port, log_level="warning",
                access_log=False, proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None)
    return 0


def _one_core_per_computation() -> None:
    """Requests are answered side by side, and the query encoder batches them: splitting one
    request's small matrix products or one encoder batch over the cores only makes threads wait
    for each other (OpenMP threads spin while they wait, taking the core another request needs).
    OMP_NUM_THREADS reaches torch, which the encoder imports later; the user's own value wins.
    Only `paperlens serve` sets it, first thing: the process is a server and nothing else."""
    from threadpoolctl import threadpool_limits

    threads = os.environ.setdefault("OMP_NUM_THREADS", "1")
    if threads.isdigit():
        threadpool_limits(int(threads), user_api="blas")


def _engine(args: argparse.Namespace):
    from service.served import ServedIndex
    from service.settings import load_settings

    settings = load_settings(index_dir=args.index)
    return ServedIndex.load(settings.index_dir, settings.query_cache_size, encoder_settings=settings)


def _filters(args: argparse.Namespace):
    from service.filters import Filters

    return Filters.from_arguments(args.category, args.author, args.since, args.until)


def _search(args: argparse.Namespace) -> int:
    from service import ranking

    text = _query_text(args)
    served = _engine(args)
    mode = ranking.SearchMode(args.mode)
    vector = served.embed_query(text) if mode is not ranking.SearchMode.keyword else None
    hits = ranking.search(served.index, text, vector, args.k, args.offset, mode, _filters(args))
    return _print(served, hits, args, {"query": text, "mode": args.mode})


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

    served = _engine(args)
    hits = ranking.similar(served.index, served.index.row_of(args.paper_id), args.k, args.offset, _filters(args))
    return _print(served, hits, args, {"paper_id": args.paper_id})


def _recommend(args: argparse.Namespace) -> int:
    from service import ranking

    served = _engine(args)
    hits, unknown = ranking.recommend_ids(served.index, args.like, args.dislike, args.k, args.offset, _filters(args))
    if unknown:
        print(f"paperlens: ignored unknown ids: {', '.join(unknown)}", file=sys.stderr)
    return _print(served, hits, args, {"unknown_ids": unknown})


def _print(served, hits, args: argparse.Namespace, extra: dict) -> int:
    from service.routes.papers import paper_list

    papers = paper_list(served, hits)
    if args.json:
        body = {"results": [p.model_dump() for p in papers], "k": args.k, "offset": args.offset, **extra}
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    for rank, paper in enumerate(papers, start=args.offset + 1):
        authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        print(f"{rank:3d}. [{paper.score:.3f}] {paper.title}")
        print(f"     {paper.id} · {paper.published or 'n.d.'} · {authors}")
        if paper.because:
            shared = f" (shared: {', '.join(paper.shared_terms)})" if paper.shared_terms else ""
            print(f"     because {', '.join(paper.because)}{shared}")
    if not papers:
        print("no papers found")
    return 0
