"""Pasted abstracts and paragraphs as queries (issue #15): the embedding reads the whole passage (in
pieces, not its first 256 word pieces), a passage is matched the way a paper is, and a real server
takes a 20,000-character query in the URL."""

from __future__ import annotations

import httpx
import numpy as np

from models.base import PASSAGE_WORDS, passage_pieces
from service import ranking


def test_a_long_text_is_cut_at_sentence_ends_into_pieces_the_model_reads_whole() -> None:
    sentences = [f"Sentence {i} says a few more words about graphs." for i in range(100)]  # 9 words each
    pieces = passage_pieces(" ".join(sentences))
    assert len(pieces) == 6 and all(len(piece.split()) <= PASSAGE_WORDS for piece in pieces)
    assert all(piece.endswith("graphs.") for piece in pieces)  # no sentence cut in two
    assert " ".join(pieces) == " ".join(sentences)
    assert passage_pieces("a short query") == ["a short query"]
    unbroken = " ".join(["word"] * 500)  # no sentence end at all: cut where the piece is full
    assert [len(piece.split()) for piece in passage_pieces(unbroken)] == [160, 160, 160, 20]


def test_a_short_query_is_embedded_as_before(encoder) -> None:
    query = "speculative decoding for large language models"
    assert np.allclose(encoder.embed_passages([query])[0], encoder.embed([query])[0])


def test_a_paragraph_whose_topic_comes_late_still_finds_it(encoder, engine) -> None:
    """The model alone reads 256 word pieces: a paper named after them would be invisible."""
    papers = sorted(engine.index.papers, key=lambda p: -len(p.abstract.split()))
    first, late = papers[0], next(p for p in papers[1:] if len(p.abstract.split()) > 80)
    opening = " ".join([first.abstract] * (1 + 2 * PASSAGE_WORDS // len(first.abstract.split())))
    passage = f"{opening} {late.title}. {late.abstract}"
    assert len(passage.split()) > 2 * PASSAGE_WORDS
    hits = ranking.search(engine.index, passage, encoder.embed_passages([passage])[0], 5,
                          mode=ranking.SearchMode.semantic)
    found = [engine.index.papers[hit.row].id for hit in hits]
    assert first.id in found and late.id in found, found


def test_a_real_server_takes_a_20000_character_query_and_names_the_limit_beyond(server: str, engine) -> None:
    text = " ".join(paper.abstract for paper in engine.index.papers)
    query = (text * (1 + 20_000 // len(text)))[:20_000]
    answer = httpx.get(f"{server}/search", params={"q": query, "k": 3}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    assert len(answer.json()["results"]) == 3
    over = httpx.get(f"{server}/search", params={"q": query + "x", "k": 3}, timeout=60)
    assert over.status_code == 422 and "20000" in over.text
