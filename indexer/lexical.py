"""A field-aware BM25 index over titles and abstracts, stored as one sparse matrix."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import Stemmer

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
# A short English stop list: BM25's idf already discounts common words, this only keeps the
# postings small and stops query words like "papers about" from adding noise.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves via using based paper papers
    article articles interested""".split()
)


class Tokenizer:
    """Lower-cased words, stop words removed, Snowball-stemmed; hyphenated words also split."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        return [self._stem(word) for word in self.words(text)]

    def words(self, text: str) -> list[str]:
        """The indexed words before stemming (what a person would recognise)."""
        words: list[str] = []
        for word in _WORD.findall(text.lower()):
            parts = re.split(r"[-']", word)
            for token in (word, *parts) if len(parts) > 1 else (word,):
                if token not in STOPWORDS and len(token) > 1 or token.isdigit():
                    words.append(token)
        return words

    def _stem(self, word: str) -> str:
        return _cached_stem(self._stemmer, word)


@lru_cache(maxsize=200_000)
def _cached_stem(stemmer: Stemmer.Stemmer, word: str) -> str:
    return stemmer.stemWord(word)


@dataclass
class BM25Parameters:
    k1: float = 1.2
    b: float = 0.75
    title_weight: float = 2.0  # a query word in the title says more than one in the abstract


class LexicalIndex:
    """BM25 with the title counted `title_weight` times; scores for every paper in one sparse product."""

    def __init__(self, vocabulary: dict[str, int], weights: sp.csc_matrix, parameters: BM25Parameters,
                 surface: list[str] | None = None, tfidf: sp.csr_matrix | None = None) -> None:
        self.vocabulary = vocabulary
        self.weights = weights  # papers x terms, BM25 term weight (idf * saturated tf) per cell
        # papers x terms, unit rows: sublinear tf-idf of the distinctive words (document frequency
        # at most 10%), arxiv-sanity's representation of what a paper is about.
        self.tfidf = tfidf if tfidf is not None else sp.csr_matrix(weights.shape, dtype=np.float32)
        self.parameters = parameters
        self.surface = surface or sorted(vocabulary, key=vocabulary.__getitem__)  # a readable word per term
        self.tokenize = Tokenizer()

    @classmethod
    def build(cls, titles: Sequence[str], abstracts: Sequence[str], parameters: BM25Parameters | None = None) -> "LexicalIndex":
        parameters = parameters or BM25Parameters()
        tokenize = Tokenizer()
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(titles), dtype=np.float32)
        surface_counts: dict[str, Counter[str]] = {}
        for row, (title, abstract) in enumerate(zip(titles, abstracts)):
            weighted: Counter[str] = Counter()
            for text, weight in ((title, parameters.title_weight), (abstract, 1.0)):
                for word in tokenize.words(text):
                    token = tokenize._stem(word)
                    weighted[token] += weight
                    surface_counts.setdefault(token, Counter())[word] += 1
            lengths[row] = sum(weighted.values())
            for token, count in weighted.items():
                rows.append(row)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
                counts.append(count)
        shape = (len(titles), len(vocabulary))
        tf = sp.csr_matrix((np.asarray(counts, np.float32), (rows, cols)), shape=shape)
        surface = [""] * len(vocabulary)
        for token, column in vocabulary.items():
            surface[column] = surface_counts[token].most_common(1)[0][0]
        texts = [f"{title}. {abstract}" for title, abstract in zip(titles, abstracts)]
        return cls(vocabulary, _bm25_weights(tf, lengths, parameters), parameters, surface, arxiv_sanity_tfidf(texts))

    def __len__(self) -> int:
        return self.weights.shape[0]

    def query_terms(self, query: str) -> list[int]:
        return [self.vocabulary[t] for t in dict.fromkeys(self.tokenize(query)) if t in self.vocabulary]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every paper for the query (0 where no query word occurs). A word the
        query repeats counts as often as it appears (query term frequency, as Lucene does):
        a verbose request that names its topic twice means it."""
        counts = Counter(t for t in self.tokenize(query) if t in self.vocabulary)
        if not counts:
            return np.zeros(len(self), dtype=np.float32)
        terms = [self.vocabulary[t] for t in counts]
        weights = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        return np.asarray(self.weights[:, terms] @ weights, dtype=np.float32).ravel()

    @cached_property
    def _rows(self) -> sp.csr_matrix:
        return self.weights.tocsr()

    def shared_terms(self, row: int, others: Sequence[int], limit: int = 5) -> list[str]:
        """The most telling words that paper `row` shares with the papers `others`: ranked by the
        smaller of the two BM25 weights, so a word must matter to both papers."""
        mine, mine_weights = self._terms_of(row)
        shared = np.zeros(len(mine), dtype=np.float32)
        for other in others:
            theirs, their_weights = self._terms_of(other)
            _, in_mine, in_theirs = np.intersect1d(mine, theirs, assume_unique=True, return_indices=True)
            shared[in_mine] = np.maximum(shared[in_mine], their_weights[in_theirs])
        strength = np.minimum(mine_weights, shared)
        words = (self.surface[mine[i]] for i in np.argsort(-strength) if strength[i] > 0)
        return [word for word in words if len(word) > 2 and not word.isdigit()][:limit]

    def _terms_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self._rows.indptr[row], self._rows.indptr[row + 1]
        return self._rows.indices[start:end], self._rows.data[start:end]

    @cached_property
    def tfidf_columns(self) -> sp.csc_matrix:
        return self.tfidf.tocsc()

    def save(self, folder: Path) -> None:
        sp.save_npz(folder / "lexical.npz", self.weights.tocsc(), compressed=False)
        sp.save_npz(folder / "tfidf.npz", self.tfidf.tocsr(), compressed=False)
        meta = {"parameters": self.parameters.__dict__, "vocabulary": self.vocabulary, "surface": self.surface}
        (folder / "lexical.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        meta = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        weights = sp.load_npz(folder / "lexical.npz").tocsc()
        tfidf = sp.load_npz(folder / "tfidf.npz").tocsr()
        return cls(meta["vocabulary"], weights, BM25Parameters(**meta["parameters"]), meta.get("surface"), tfidf)


def _bm25_weights(tf: sp.csr_matrix, lengths: np.ndarray, p: BM25Parameters) -> sp.csc_matrix:
    n = tf.shape[0]
    document_frequency = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
    idf = np.log1p((n - document_frequency + 0.5) / (document_frequency + 0.5)).astype(np.float32)
    average_length = float(lengths.mean()) if n else 1.0
    tf = tf.tocoo()
    norm = p.k1 * (1 - p.b + p.b * lengths[tf.row] / max(average_length, 1e-9))
    values = idf[tf.col] * tf.data * (p.k1 + 1) / (tf.data + norm)
    return sp.csc_matrix((values.astype(np.float32), (tf.row, tf.col)), shape=tf.shape)


def arxiv_sanity_tfidf(texts: Sequence[str], dtype: type = np.float32) -> sp.csr_matrix:
    """arxiv-sanity's paper representation: unit rows of sublinear tf-idf over unigrams and
    bigrams, keeping words in at most 10% of the papers (and in at least min(5, N/500) of them,
    so typos and one-off tokens do not count), at most 20,000 features."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(strip_accents="unicode", lowercase=True, stop_words="english",
                                 token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                                 max_features=20000, sublinear_tf=True, max_df=0.1,
                                 min_df=min(5, max(1, len(texts) // 500)), dtype=dtype)
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # too few papers for any word to pass the document-frequency bounds
        return sp.csr_matrix((len(texts), 0), dtype=dtype)
