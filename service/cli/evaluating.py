"""`paperlens eval` on the command line: paperlens' calls against the field's baselines on a judged set."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli.arguments import add_runtime_option, encoder_settings_from


def add_commands(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="relevance of paperlens and baselines on a judged set")
    evaluate.add_argument("dataset", metavar="DATASET", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv "
                          "(for --task titles or abstracts: any paper source; each sampled paper's title, "
                          "or its abstract without the title, must find it)")
    evaluate.add_argument("--task", choices=("search", "similar", "recommend", "titles", "abstracts"), required=True)
    evaluate.add_argument("--sample", type=int, default=1000,
                          help="papers whose titles or abstracts are queried (--task titles, abstracts)")
    evaluate.add_argument("--model", default=None, metavar="NAME_OR_PATH")
    evaluate.add_argument("--cache", default="var/eval", metavar="DIR",
                          help="where the corpus index is kept between runs")
    add_runtime_option(evaluate)
    evaluate.set_defaults(run=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from models import load_encoder
    from service import evaluation

    if args.task == "titles":
        dataset = evaluation.title_queries(args.dataset, args.sample)
    elif args.task == "abstracts":
        dataset = evaluation.abstract_queries(args.dataset, args.sample)
    else:
        dataset = evaluation.load_dataset(args.dataset)
    settings = encoder_settings_from(args)
    encoder = load_encoder(args.model, bf16=settings.bf16, runtime=settings.runtime, cache=settings.encoder_cache)
    index = evaluation.cached_index(dataset, encoder, Path(args.cache))
    results = evaluation.evaluate(dataset, args.task, index, encoder)
    print(evaluation.format_table(dataset, args.task, results))
    return 0
