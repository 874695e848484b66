"""Relevance metrics over one ranked list of paper ids and its graded judgments.

Owns `ndcg` (linear gains = grades), `recall`, `reciprocal_rank`, and `Scores` / `score_method`: a
method's means over every judged query (nDCG@10, Recall@10, Recall@100, MRR@10, Recall@1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Scores:
    method: str
    queries: int
    ndcg10: float
    recall10: float
    recall100: float
    mrr10: float
    recall1: float = 0.0


def ndcg(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    gains = sorted((g for g in judged.values() if g > 0), reverse=True)
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    actual = sum(judged.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    return actual / ideal if ideal > 0 else 0.0


def recall(ranked: list[str], judged: dict[str, int], k: int) -> float:
    relevant = {pid for pid, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    for i, pid in enumerate(ranked[:k]):
        if judged.get(pid, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_method(name: str, rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
    qids = [q for q in rankings if any(g > 0 for g in qrels.get(q, {}).values())]
    mean = lambda f: float(np.mean([f(rankings[q], qrels[q]) for q in qids])) if qids else 0.0  # noqa: E731
    return Scores(name, len(qids), mean(ndcg), mean(lambda r, j: recall(r, j, 10)),
                  mean(lambda r, j: recall(r, j, 100)), mean(reciprocal_rank), mean(lambda r, j: recall(r, j, 1)))
