"""Relevance evaluation (`paperlens eval`): paperlens' calls against the field's baselines on judged sets.

A client of `service.ranking`, never imported by the serving code. datasets.py owns the judged sets
and their cached indexes, metrics.py the scores, baselines.py the baselines, runner.py the tasks,
`evaluate` and the table; this package re-exports what the CLI, the tests and the benchmarks use.
"""

from __future__ import annotations

from service.evaluation.baselines import DEPTH, RRF_K, Baselines, arxiv_sanity_tfidf
from service.evaluation.datasets import (MIN_ABSTRACT, Dataset, abstract_queries, cached_index, load_dataset,
                                         title_queries)
from service.evaluation.metrics import Scores, ndcg, recall, reciprocal_rank, score_method
from service.evaluation.runner import PAGE, TASKS, Ranker, evaluate, format_table, methods_for

__all__ = ["DEPTH", "MIN_ABSTRACT", "PAGE", "RRF_K", "TASKS", "Baselines", "Dataset", "Ranker", "Scores",
           "abstract_queries", "arxiv_sanity_tfidf", "cached_index", "evaluate", "format_table", "load_dataset",
           "methods_for", "ndcg", "recall", "reciprocal_rank", "score_method", "title_queries"]
