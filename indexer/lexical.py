"""A field-aware BM25 index over titles and abstracts, stored as one sparse matrix.

Papers added while serving are `AddedRows`: tokenised once, when their batch arrives, and carried
from snapshot to snapshot, so a write tokenises only its own papers however many came before it;
`LexicalIndex.with_rows` turns them into the served index (their BM25 weights depend on every
added row's document frequencies, so those are recomputed from the kept term counts)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import orjson
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


@dataclass(frozen=True)
class AddedRows:
    """Papers appended to a built index, tokenised: title-weighted term counts over the built
    vocabulary plus the terms they brought (`vocabulary`, in column order), weighted lengths, the
    surface words seen for those new terms, and tf-idf rows. Immutable: snapshots share them."""

    vocabulary: dict[str, int]
    term_counts: sp.csr_matrix
    lengths: np.ndarray
    new_surface: dict[str, Counter[str]]
    tfidf: sp.csr_matrix

    def __len__(self) -> int:
        return self.term_counts.shape[0]


class LexicalIndex:
    """BM25 with the title counted `title_weight` times; scores for every paper in one sparse product."""

    FILES = ("lexical.json", "lexical.npz", "tfidf.npz")  # what `save` writes into a folder

    def __init__(self, vocabulary: dict[str, int], weights: sp.csc_matrix, parameters: BM25Parameters,
                 surface: list[str] | None = None, tfidf: sp.csr_matrix | None = None,
                 tfidf_model: "TfidfModel | None" = None, average_length: float | None = None) -> None:
        self.vocabulary = vocabulary
        self.weights = weights  # papers x terms, BM25 term weight (idf * saturated tf) per cell
        # papers x terms, unit rows: sublinear tf-idf of the distinctive words (document frequency
        # at most 10%), arxiv-sanity's representation of what a paper is about.
        self.tfidf = tfidf if tfidf is not None else sp.csr_matrix(weights.shape, dtype=np.float32)
        self.parameters = parameters
        self.surface = surface or sorted(vocabulary, key=vocabulary.__getitem__)  # a readable word per term
        self.tfidf_model = tfidf_model  # what turns a new paper's text into a tf-idf row
        self.average_length = average_length  # mean weighted length the BM25 weights were normalised by
        self.tokenize = Tokenizer()

    @classmethod
    def build(cls, titles: Sequence[str], abstracts: Sequence[str], parameters: BM25Parameters | None = None) -> "LexicalIndex":
        parameters = parameters or BM25Parameters()
        vocabulary: dict[str, int] = {}
        tf, lengths, surface_counts = _term_counts(titles, abstracts, parameters, vocabulary)
        surface = [surface_counts[token].most_common(1)[0][0] for token in vocabulary]  # in column order
        texts = [f"{title}. {abstract}" for title, abstract in zip(titles, abstracts)]
        tfidf, model = fit_tfidf(texts)
        average_length = float(lengths.mean()) if len(lengths) else 1.0
        return cls(vocabulary, _bm25_weights(tf, lengths, parameters), parameters, surface, tfidf, model, average_length)

    def extended(self, titles: Sequence[str], abstracts: Sequence[str]) -> "LexicalIndex":
        """This index with more papers appended as rows (papers added while serving). Their BM25
        weights use this index's length normalisation, and document frequencies counting both;
        words never seen before become new terms. The existing rows are shared, not recomputed."""
        if not titles:
            return self
        return self.with_rows(self.added_rows(titles, abstracts))

    def added_rows(self, titles: Sequence[str], abstracts: Sequence[str],
                   previous: AddedRows | None = None) -> AddedRows:
        """`previous` (rows added earlier, already tokenised) followed by these papers; only these
        are tokenised."""
        vocabulary = dict(previous.vocabulary if previous is not None else self.vocabulary)
        tf, lengths, surface_counts = _term_counts(titles, abstracts, self.parameters, vocabulary)
        texts = [f"{title}. {abstract}" for title, abstract in zip(titles, abstracts)]
        tfidf = self._tfidf_rows(texts)
        new_surface = dict(previous.new_surface) if previous is not None else {}
        for token, counts in surface_counts.items():
            if token not in self.vocabulary:  # a built term's surface word is fixed at build time
                new_surface[token] = new_surface[token] + counts if token in new_surface else counts
        if previous is not None:
            tf = sp.vstack([_with_row_columns(previous.term_counts, len(vocabulary)), tf], format="csr")
            lengths = np.concatenate([previous.lengths, lengths])
            tfidf = sp.vstack([previous.tfidf, tfidf], format="csr")
        return AddedRows(vocabulary, tf, lengths, new_surface, tfidf)

    def with_rows(self, added: AddedRows) -> "LexicalIndex":
        """This index with `added` appended as rows (see `extended`)."""
        if not len(added):
            return self
        vocabulary = added.vocabulary
        new_terms = list(vocabulary)[len(self.surface):]
        surface = self.surface + [added.new_surface[token].most_common(1)[0][0] for token in new_terms]
        base = _with_columns(self.weights.tocsc(), len(vocabulary))
        frequency = (np.diff(base.indptr).astype(np.float32)
                     + np.bincount(added.term_counts.indices, minlength=len(vocabulary)))
        average_length = self.average_length or float(added.lengths.mean())
        extra = _bm25_weights(added.term_counts, added.lengths, self.parameters, frequency, len(self) + len(added),
                              average_length)
        weights = sp.vstack([base, extra], format="csc")
        tfidf = sp.vstack([self.tfidf, added.tfidf], format="csr")
        return LexicalIndex(vocabulary, weights, self.parameters, surface, tfidf, self.tfidf_model, self.average_length)

    def _tfidf_rows(self, texts: list[str]) -> sp.csr_matrix:
        if self.tfidf_model is None:
            return sp.csr_matrix((len(texts), self.tfidf.shape[1]), dtype=np.float32)
        return self.tfidf_model.transform(texts)

    def __len__(self) -> int:
        return self.weights.shape[0]

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

    def warm(self) -> None:
        """Computes the row and column forms now (a writer does, so that no reader waits for them)."""
        self._rows, self.tfidf_columns  # noqa: B018

    def save(self, folder: Path) -> None:
        sp.save_npz(folder / "lexical.npz", self.weights.tocsc(), compressed=False)
        sp.save_npz(folder / "tfidf.npz", self.tfidf.tocsr(), compressed=False)
        meta = {"parameters": self.parameters.__dict__, "vocabulary": self.vocabulary, "surface": self.surface,
                "average_length": self.average_length,
                "tfidf": self.tfidf_model.to_dict() if self.tfidf_model else None}
        (folder / "lexical.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        meta = orjson.loads((folder / "lexical.json").read_bytes())
        weights = sp.load_npz(folder / "lexical.npz").tocsc()
        tfidf = sp.load_npz(folder / "tfidf.npz").tocsr()
        model = TfidfModel.from_dict(meta["tfidf"]) if meta.get("tfidf") else None
        return cls(meta["vocabulary"], weights, BM25Parameters(**meta["parameters"]), meta.get("surface"), tfidf,
                   model, meta.get("average_length"))


def _term_counts(titles: Sequence[str], abstracts: Sequence[str], parameters: BM25Parameters,
                 vocabulary: dict[str, int]) -> tuple[sp.csr_matrix, np.ndarray, dict[str, Counter[str]]]:
    """(title-weighted term counts, weighted lengths, surface words per term); new terms are added
    to `vocabulary` in place."""
    tokenize = Tokenizer()
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
    tf = sp.csr_matrix((np.asarray(counts, np.float32), (rows, cols)), shape=(len(titles), len(vocabulary)))
    return tf, lengths, surface_counts


def _with_row_columns(matrix: sp.csr_matrix, columns: int) -> sp.csr_matrix:
    """The same rows with empty columns appended up to `columns` (new terms later rows brought)."""
    return sp.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], columns))


def _with_columns(matrix: sp.csc_matrix, columns: int) -> sp.csc_matrix:
    """The same matrix with empty columns appended up to `columns`."""
    extra = columns - matrix.shape[1]
    if extra <= 0:
        return matrix
    indptr = np.concatenate([matrix.indptr, np.full(extra, matrix.indptr[-1], dtype=matrix.indptr.dtype)])
    return sp.csc_matrix((matrix.data, matrix.indices, indptr), shape=(matrix.shape[0], columns))


def _bm25_weights(tf: sp.csr_matrix, lengths: np.ndarray, p: BM25Parameters, document_frequency: np.ndarray | None = None,
                  n: int | None = None, average_length: float | None = None) -> sp.csc_matrix:
    """BM25 weight per cell; corpus statistics from `tf` itself unless given (rows added later)."""
    n = tf.shape[0] if n is None else n
    if document_frequency is None:
        document_frequency = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
    idf = np.log1p((n - document_frequency + 0.5) / (document_frequency + 0.5)).astype(np.float32)
    if average_length is None:
        average_length = float(lengths.mean()) if tf.shape[0] else 1.0
    tf = tf.tocoo()
    norm = p.k1 * (1 - p.b + p.b * lengths[tf.row] / max(average_length, 1e-9))
    values = idf[tf.col] * tf.data * (p.k1 + 1) / (tf.data + norm)
    return sp.csc_matrix((values.astype(np.float32), (tf.row, tf.col)), shape=tf.shape)


_TFIDF_WORDS = dict(strip_accents="unicode", lowercase=True, stop_words="english",
                    token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2))


@dataclass
class TfidfModel:
    """A fitted tf-idf: its terms (1-2 grams) and their idf, enough to add papers later."""

    terms: list[str]
    idf: np.ndarray

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        if not self.terms:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        counts = CountVectorizer(vocabulary=self.terms, dtype=np.float32, **_TFIDF_WORDS).transform(texts).tocsr()
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf, as when fitted
        return normalize(counts.multiply(self.idf[None, :]).tocsr().astype(np.float32), copy=False)

    def to_dict(self) -> dict:
        return {"terms": self.terms, "idf": self.idf.tolist()}

    @classmethod
    def from_dict(cls, record: dict) -> "TfidfModel":
        return cls(list(record["terms"]), np.asarray(record["idf"], dtype=np.float32))


def fit_tfidf(texts: Sequence[str], dtype: type = np.float32) -> tuple[sp.csr_matrix, TfidfModel]:
    """arxiv-sanity's paper representation: unit rows of sublinear tf-idf over unigrams and
    bigrams, keeping words in at most 10% of the papers (and in at least min(5, N/500) of them,
    so typos and one-off tokens do not count), at most 20,000 features."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(max_features=20000, sublinear_tf=True, max_df=0.1,
                                 min_df=min(5, max(1, len(texts) // 500)), dtype=dtype, **_TFIDF_WORDS)
    try:
        matrix = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # too few papers for any word to pass the document-frequency bounds
        return sp.csr_matrix((len(texts), 0), dtype=dtype), TfidfModel([], np.zeros(0, np.float32))
    return matrix, TfidfModel(vectorizer.get_feature_names_out().tolist(), vectorizer.idf_.astype(np.float32))
