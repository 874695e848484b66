"""The field's baselines that paperlens is measured against, sharing the index's vectors.

Owns `Baselines` (plain BM25, dense cosine, the liked papers' centroid, reciprocal rank fusion, and
arxiv-sanity-lite's tf-idf + linear SVM), each a function (query) -> ranked rows, `DEPTH` (how many
papers every method returns per query) and `arxiv_sanity_tfidf` (that SVM's features).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from indexer.lexical import BM25Parameters, LexicalIndex, fit_tfidf
from indexer.paper_index import PaperIndex, top_k

DEPTH = 100  # every method returns this many papers per query
RRF_K = 60


def arxiv_sanity_tfidf(texts: Sequence[str], dtype: type = np.float32) -> sp.csr_matrix:
    """arxiv-sanity-lite's paper features: the tf-idf rows `fit_tfidf` computes, without the model."""
    return fit_tfidf(texts, dtype)[0]


class Baselines:
    def __init__(self, index: PaperIndex) -> None:
        self.index = index
        # Plain BM25 (Robertson k1=1.2, b=0.75) over title + abstract as one field.
        self.bm25 = LexicalIndex.build([p.title for p in index.papers], [p.abstract for p in index.papers],
                                       BM25Parameters(title_weight=1.0))

    def bm25_rows(self, text: str, exclude: set[int], n: int = DEPTH) -> np.ndarray:
        scores = self.bm25.scores(text)
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    def dense_rows(self, vector: np.ndarray, exclude: set[int], n: int = DEPTH) -> np.ndarray:
        scores = np.asarray(self.index.vectors) @ vector
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    def centroid_rows(self, liked: list[int], exclude: set[int], n: int = DEPTH) -> np.ndarray:
        vector = np.asarray(self.index.vectors[liked]).mean(axis=0)
        return self.dense_rows(vector / np.linalg.norm(vector), exclude, n)

    def rrf_rows(self, rankings: list[np.ndarray], n: int = DEPTH) -> np.ndarray:
        fused: dict[int, float] = defaultdict(float)
        for rows in rankings:
            for rank, row in enumerate(rows):
                fused[int(row)] += 1.0 / (RRF_K + rank + 1)
        return np.array(sorted(fused, key=lambda r: (-fused[r], r))[:n])

    def svm_rows(self, liked: list[int], exclude: set[int], n: int = DEPTH) -> np.ndarray:
        """arxiv-sanity-lite's recipe: tf-idf (1-2 grams, sublinear tf) + linear SVM, C=0.01, balanced."""
        from sklearn.svm import LinearSVC

        features = self.tfidf
        labels = np.zeros(features.shape[0], dtype=np.int32)
        labels[liked] = 1
        classifier = LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6)
        classifier.fit(features, labels)
        scores = classifier.decision_function(features).astype(np.float32)
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    @cached_property
    def tfidf(self) -> sp.csr_matrix:
        """arxiv-sanity-lite's features in float64, as its SVM computes them."""
        return arxiv_sanity_tfidf([p.text() for p in self.index.papers], dtype=np.float64)
