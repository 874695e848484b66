"""Readers: every supported source format becomes the same papers, and bad input is reported
with the file and line a user has to fix.

Fixtures in tests/data: arxiv-sample.jsonl (five real arXiv cs papers in the contract format),
arxiv-sample.csv (the same records as CSV), arxiv-snapshot-sample.json (three of them in the
layout of the Kaggle arXiv metadata snapshot), sample.bib (real papers as BibTeX with LaTeX
escapes), daily-papers-seed.txt (the Hugging Face Daily Papers page of the bundled seed corpus)
and seed-papers.jsonl (40 papers of that page, in the contract format, used by other tests).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from indexer.errors import BadRecord, SourceUnreadable, UnknownFormat
from indexer.papers import Paper
from indexer.readers import FORMATS, detect_format, normalise_text, read_papers

DATA = Path(__file__).parent / "data"
JSONL = DATA / "arxiv-sample.jsonl"
CSV = DATA / "arxiv-sample.csv"
SNAPSHOT = DATA / "arxiv-snapshot-sample.json"
BIBTEX = DATA / "sample.bib"
SEED_PAGE = DATA / "daily-papers-seed.txt"
SEED_PAPERS = DATA / "seed-papers.jsonl"


def read(path: Path | str, format: str | None = None) -> list[Paper]:
    return list(read_papers(str(path), format))


def raw_records() -> list[dict]:
    return [json.loads(line) for line in JSONL.read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "2503.11742", "title": "Safe Vision-Language Models via Unsafe Weights Manipulation"})


# --- the Daily Papers seed page ----------------------------------------------------------------

@pytest.fixture(scope="module")
def seed() -> list[Paper]:
    return read(SEED_PAGE)


def by_title(papers: list[Paper], title: str) -> Paper:
    matches = [paper for paper in papers if paper.title == title]
    assert len(matches) == 1, f"{title!r} found {len(matches)} times"
    return matches[0]


def test_seed_page_is_detected_and_every_paper_is_read(seed):
    text = SEED_PAGE.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    # Counted independently of the reader: every paper on this page has a title and an abstract
    # paragraph; the header's six paragraphs and the meta blocks ("• N authors", "·", date) are not papers.
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    meta_blocks = [p for p in paragraphs if "·" in p.splitlines()]
    assert (len(paragraphs) - 6 - len(meta_blocks)) // 2 == 67
    assert detect_format(str(SEED_PAGE)) == "daily"
    assert len(seed) == 67
    assert sum("author_count" in p.extra for p in seed) == sum(line.startswith("•") for line in lines) == 62
    assert sum(p.published is not None for p in seed) == lines.count("·") == 64
    assert all(p.abstract for p in seed)


def test_seed_page_header_is_not_a_paper(seed):
    titles = {paper.title for paper in seed}
    assert not titles & {"new", "Subscribe", "Daily Papers", "byAK and the research community", "Oct 29",
                         "Get trending papers in your email inbox!"}
    assert seed[0].title == "From Robustness to Privacy and Back"
    assert seed[-1].title == ("Understanding the Effect of Noise in LLM Training Data "
                              "with Algorithmic Chains of Thought")


def test_seed_papers_are_neither_merged_nor_split(seed):
    for paper, following in zip(seed, seed[1:]):
        assert following.title not in paper.abstract
    for paper in seed:
        assert len(paper.title) < 200 and len(paper.abstract) > 1000  # no abstract taken for a title


def test_seed_paper_fields(seed):
    paper = by_title(seed, "From Robustness to Privacy and Back")
    assert paper.abstract.startswith("We study the relationship between two desiderata")
    assert paper.abstract.endswith("which is impossible under pure differential privacy.")
    assert (paper.published, paper.extra) == ("2023-02-03", {"author_count": 3})
    assert paper.authors == [] and paper.url is None

    paper = by_title(seed, "Automatic Calibration and Error Correction for Large Language Models "
                           "via Pareto Optimal Self-Supervision")
    assert (paper.published, paper.extra) == ("2023-06-28", {"author_count": 4, "upvotes": 1})

    paper = by_title(seed, "SpecDec++: Boosting Speculative Decoding via Adaptive Candidate Lengths")
    assert paper.published == "2024-05-30"
    assert paper.abstract.startswith("Speculative decoding reduces the inference latency")


def test_seed_dates_without_year_take_the_year_of_the_page(seed):
    # The page shows years only for earlier years (the latest shown is 2024), so "Aug 20" is 2025.
    assert by_title(seed, "Automated Optimization Modeling through Expert-Guided "
                          "Large Language Model Reasoning").published == "2025-08-20"
    paper = by_title(seed, "Stepsize anything: A unified learning rate schedule for budgeted-iteration training")
    assert (paper.published, paper.extra["upvotes"]) == ("2025-05-30", 2)


def test_seed_papers_without_author_line(seed):
    paper = by_title(seed, "ParallelBench: Understanding the Trade-offs of Parallel Decoding in Diffusion LLMs")
    assert paper.extra == {"organisation": "FuriosaAI", "upvotes": 2}
    assert paper.published == "2025-10-06"
    paper = by_title(seed, "MixtureVitae: Open Web-Scale Pretraining Dataset With High Quality Instruction and "
                           "Reasoning Data Built from Permissive-First Text Sources")
    assert paper.extra["organisation"] == "Ontocord.AI"
    # Papers listed with no meta block at all: the next title follows the abstract directly.
    paper = by_title(seed, "Beyond Outliers: A Study of Optimizers Under Quantization")
    assert paper.published is None and paper.abstract.startswith("As new optimizers gain traction")
    assert by_title(seed, "Minimum Entropy Coupling with Bottleneck").published == "2024-10-28"


def test_seed_markup_remnants_are_cleaned(seed):
    assert by_title(seed, "Inference Scaling FLaws: The Limits of LLM Resampling with Imperfect Verifiers")
    paper = by_title(seed, "Fixed-Budget Differentially Private Best Arm Identification")
    assert "ε-differential privacy" in paper.abstract and "varepsilon" not in paper.abstract
    assert "{\\" not in paper.abstract


def test_seed_ids_are_unique_and_stable(seed):
    ids = [paper.id for paper in seed]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"hf-[a-z0-9-]+", paper_id) for paper_id in ids)
    assert seed[0].id == "hf-from-robustness-to-privacy-and-back"
    assert [paper.id for paper in read(SEED_PAGE)] == ids


def test_daily_page_variants(tmp_path):
    """A header date with a year, title-only papers, a short abstract and a "Submitted by" line."""
    path = write_lines(tmp_path / "page.txt", [
        "Daily Papers", "", "Oct 29, 2024", "",
        "A Title Only Paper", "", "  • 2 authors", "·", "Oct 2 5", "",
        "Another Paper: With an Abstract", "", "This is a short abstract. It has two sentences.", "",
        "Submitted by someone", "  • 1 authors", "·", "Sep 30, 2023", "",
        "Final title with no meta",
    ])
    assert detect_format(str(path)) == "daily"
    first, second, third = read(path)
    assert (first.title, first.abstract, first.published) == ("A Title Only Paper", "", "2024-10-02")
    assert first.extra == {"author_count": 2, "upvotes": 5}
    assert (second.abstract, second.published) == ("This is a short abstract. It has two sentences.", "2023-09-30")
    assert second.extra == {"submitted_by": "someone", "author_count": 1}
    assert (third.title, third.published) == ("Final title with no meta", None)


def test_repeated_title_on_a_page_gets_its_own_id(tmp_path):
    page = SEED_PAGE.read_text(encoding="utf-8")
    first_paper = page[page.index("From Robustness"):page.index("Automatic Calibration")]
    path = tmp_path / "page.txt"
    path.write_text(page + "\n" + first_paper, encoding="utf-8")
    ids = [paper.id for paper in read(path)]
    assert ids[-1] == "hf-from-robustness-to-privacy-and-back-2" and len(set(ids)) == 68


def test_seed_fixture_matches_the_reader(seed):
    fixture = [json.loads(line) for line in SEED_PAPERS.read_text(encoding="utf-8").splitlines()]
    assert len(fixture) == 40
    from_page = {paper.id: paper for paper in seed}
    for record in fixture:
        paper = from_page[record["id"]]
        assert record == {"id": paper.id, "title": paper.title, "abstract": paper.abstract, "authors": [],
                          "categories": [], "published": paper.published, "url": None}
    topical = [p.id for p in seed if re.search(r"speculative|differential(ly)? priva", (p.title + p.abstract).lower())]
    assert len(topical) == 9 and set(topical) <= {record["id"] for record in fixture}
    assert read(SEED_PAPERS)[0].title == fixture[0]["title"]


# --- contract formats: JSON Lines, gzip, CSV, Parquet ----------------------------------------------

def test_jsonl_round_trips_real_records():
    papers = read(JSONL)
    assert detect_format(str(JSONL)) == "jsonl"
    for paper, record in zip(papers, raw_records(), strict=True):
        assert (paper.id, paper.title, paper.authors, paper.categories, paper.published, paper.url) == (
            record["id"], record["title"], record["authors"], record["categories"], record["published"], record["url"])
    assert papers[1].authors[0] == "Moreno D'Incà"
    # The one LaTeX escape in these abstracts is normalised, the rest is unchanged.
    assert "margins of 20.43%, 21.01% and 26.43%" in papers[2].abstract
    assert papers[0].abstract == raw_records()[0]["abstract"]


@pytest.mark.parametrize("name", ["papers.jsonl.gz", "papers.json.gz", "papers.jsonl"])
def test_gzip_is_read_by_name_or_by_magic_bytes(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(JSONL.read_bytes()))
    assert read(path) == read(JSONL)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "papers.jsonl.gz"
    data = gzip.compress(JSONL.read_bytes())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadRecord) as error:
        read(path)
    assert str(path) in str(error.value) and "gzip" in str(error.value)


def test_csv_reads_the_same_papers_as_jsonl():
    assert detect_format(str(CSV)) == "csv"
    assert read(CSV) == read(JSONL)


def test_parquet_with_list_or_string_columns(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    records = raw_records()
    lists = tmp_path / "lists.parquet"
    pq.write_table(pyarrow.Table.from_pylist(records), lists)
    strings = tmp_path / "strings.parquet"
    string_records = [{**r, "authors": "; ".join(r["authors"]), "categories": " ".join(r["categories"])}
                      for r in records]
    pq.write_table(pyarrow.Table.from_pylist(string_records), strings)
    assert detect_format(str(lists)) == "parquet"
    assert read(lists) == read(strings) == read(JSONL)


def test_parquet_bad_row_names_the_row(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "papers.parquet"
    pq.write_table(pyarrow.Table.from_pylist([{"id": "a", "title": "A"}, {"id": "b", "title": None}]), path)
    with pytest.raises(BadRecord) as error:
        read(path)
    assert (error.value.file, error.value.line) == (str(path), 2) and "title" in error.value.reason


def test_contract_field_variants(tmp_path):
    path = write_lines(tmp_path / "variants.jsonl", [
        json.dumps({"id": 1234, "title": " A  title\n", "authors": "Ada Lovelace; Alan Turing",
                    "categories": "cs.LG stat.ML", "published": "2023-06-28T10:00:00Z", "unknown": {"ignored": True}}),
        "",
        json.dumps({"id": "10.1145/3397271.3401075", "title": "B", "authors": "Ada Lovelace and Alan Turing",
                    "abstract": None, "published": "2020-07"}),
        json.dumps({"id": "x", "title": "C", "authors": ["Lovelace, Ada", "Turing, Alan"], "published": 2020}),
    ])
    first, second, third = read(path)
    assert (first.id, first.title, first.published) == ("1234", "A title", "2023-06-28")
    assert first.authors == second.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.categories == ["cs.LG", "stat.ML"]
    assert (second.id, second.abstract, second.published) == ("10.1145/3397271.3401075", "", "2020-07")
    assert third.authors == ["Lovelace, Ada", "Turing, Alan"] and third.published == "2020"


# --- bad input: the error names the file and the line ---------------------------------------------

@pytest.mark.parametrize("bad_line, words", [
    ('{"id": "2503.11750", "title": "Making Every Step Effective"', "not valid JSON"),
    ('["2503.11750", "Making Every Step Effective"]', "JSON object"),
    ('{"title": "Making Every Step Effective"}', "'id'"),
    ('{"id": "  ", "title": "Making Every Step Effective"}', "'id'"),
    ('{"id": "2503.11750"}', "'title'"),
    ('{"id": "2503.11750", "title": "  "}', "'title'"),
    ('{"id": "2503.11750", "title": "T", "published": "28/06/2023"}', "'published'"),
    ('{"id": "2503.11750", "title": "T", "published": "2023-02-30"}', "'published'"),
    ('{"id": "2503.11750", "title": {"en": "T"}}', "'title'"),
])
def test_bad_json_line_names_file_and_line(tmp_path, bad_line, words):
    path = write_lines(tmp_path / "papers.jsonl", [GOOD, "", bad_line, GOOD])
    with pytest.raises(BadRecord) as error:
        read(path)
    assert (error.value.file, error.value.line) == (str(path), 3)
    assert str(error.value).startswith(f"{path}:3: ") and words in error.value.reason


def test_bad_csv_row_names_the_line_where_it_starts(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text('id,title,abstract,published\n'
                    'a,First,"An abstract\nover two lines",2020\n'
                    'b,Second,,June 2020\n', encoding="utf-8")
    with pytest.raises(BadRecord) as error:
        read(path)
    assert (error.value.line, "published" in error.value.reason) == (4, True)


def test_csv_without_title_column(tmp_path):
    path = write_lines(tmp_path / "papers.csv", ["id,name", "a,First"])
    with pytest.raises(BadRecord) as error:
        read(path)
    assert error.value.line == 1 and "'title'" in error.value.reason


def test_unknown_format_name_lists_the_accepted_ones():
    with pytest.raises(UnknownFormat) as error:
        read_papers(str(JSONL), "xml")
    assert str(JSONL) in str(error.value)
    assert all(name in str(error.value) for name in FORMATS)


@pytest.mark.parametrize("name, content", [("notes.txt", "Just some notes.\nNothing else.\n"),
                                           ("papers.dat", "\x00\x01binary")])
def test_undetectable_format(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UnknownFormat) as error:
        detect_format(str(path))
    assert str(path) in str(error.value) and "bibtex" in str(error.value)


def test_missing_file_fails_before_iteration(tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(SourceUnreadable) as error:
        read_papers(str(missing))
    assert str(missing) in str(error.value)
    with pytest.raises(SourceUnreadable):
        read_papers(str(missing), "jsonl")
    with pytest.raises(SourceUnreadable):
        read_papers(str(tmp_path))


def test_detection_by_content_when_the_extension_says_nothing(tmp_path):
    for source, expected in [(JSONL, "jsonl"), (SNAPSHOT, "arxiv"), (BIBTEX, "bibtex"), (SEED_PAGE, "daily"),
                             (CSV, "csv")]:
        copy = tmp_path / f"{expected}-source"
        shutil.copy(source, copy)
        assert detect_format(str(copy)) == expected


# --- the arXiv metadata snapshot --------------------------------------------------------------------

def test_arxiv_snapshot():
    assert detect_format(str(SNAPSHOT)) == "arxiv"
    papers = read(SNAPSHOT)
    expected = read(JSONL)[:3]
    assert [p.id for p in papers] == [p.id for p in expected]
    for paper, contract in zip(papers, expected):
        assert (paper.title, paper.abstract, paper.categories, paper.url) == (
            contract.title, contract.abstract, contract.categories, contract.url)
    assert papers[0].authors == expected[0].authors  # from authors_parsed
    assert papers[1].authors == expected[1].authors  # from the "A, B and C" string, "D'Inc\`a" -> "D'Incà"
    assert [p.published for p in papers] == ["2025-03-18", "2025-03-18", "2025-04-08"]  # v1, v1, update_date


def test_snapshot_read_as_plain_jsonl_when_asked():
    papers = read(SNAPSHOT, "jsonl")
    assert papers[0].published is None and papers[0].url is None


# --- BibTeX ---------------------------------------------------------------------------------------------

def test_bibtex_entries():
    assert detect_format(str(BIBTEX)) == "bibtex"
    bert, attention, kpca, scale = read(BIBTEX)
    assert bert.id == "10.18653/v1/n19-1423" and bert.extra["doi"] == "10.18653/v1/N19-1423"  # ids: lower case
    assert bert.title == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    assert bert.authors == ["Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"]
    assert bert.published == "2019-06" and bert.categories == ["language models", "pre-training", "transformers"]
    assert bert.extra["venue"].endswith("Association for Computational Linguistics: Human Language Technologies")
    assert bert.abstract.startswith("We introduce a new language representation model called BERT, which")
    assert (attention.id, attention.extra["arxiv_id"], attention.url) == (
        "1706.03762", "1706.03762", "https://arxiv.org/abs/1706.03762")
    assert "Łukasz Kaiser" in attention.authors and attention.published == "2017"
    assert (kpca.id, kpca.authors[0], kpca.authors[2]) == (
        "10.1162/089976698300017467", "Bernhard Schölkopf", "Klaus-Robert Müller")
    assert kpca.extra == {"doi": "10.1162/089976698300017467", "bibtex_key": "scholkopf1998nonlinear",
                          "venue": "Neural Computation", "entry_type": "article"}
    assert scale.id == "predictable-scale-2025" and scale.authors == ["Houyi Li"]
    assert scale.title == ("Predictable Scale: Part I – Optimal Hyperparameter Scaling Law "
                           "in Large Language Model Pretraining")
    assert "power laws & we call them Step Law." in scale.abstract and scale.published == "2025-03"


def test_bibtex_entry_without_title_names_its_first_line(tmp_path):
    path = tmp_path / "refs.bib"
    untitled = "\n\n@article{untitled,\n  author = {Nobody},\n  year = 2020\n}\n"
    path.write_text(BIBTEX.read_text(encoding="utf-8") + untitled, encoding="utf-8")
    start = len(path.read_text(encoding="utf-8").splitlines()) - 3
    with pytest.raises(BadRecord) as error:
        read(path)
    assert (error.value.file, error.value.line) == (str(path), start) and "untitled" in error.value.reason


def test_bibtex_unbalanced_entry_is_a_bad_record(tmp_path):
    path = write_lines(tmp_path / "refs.bib", ["@article{a,", "  title = {Open {brace},", "  year = 2020", "}"])
    with pytest.raises(BadRecord) as error:
        read(path)
    assert error.value.line == 1


# --- text normalisation --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, clean", [
    ("  Two\n\tlines  and   spaces ", "Two lines and spaces"),
    ("<jats:p>Deep &amp; wide</jats:p><jats:p>H<sub>2</sub>O is <i>water</i></jats:p>", "Deep & wide H2O is water"),
    (r"Caf{\'e} na{\"\i}ve Erd\H{o}s Ko\c{c} \v{S}koda {\O}stergaard", "Café naïve Erdős Koç Škoda Østergaard"),
    (r"Q\&A at 100\% with snake\_case", "Q&A at 100% with snake_case"),
    ("{BERT}: Pre-training of {D}eep Transformers", "BERT: Pre-training of Deep Transformers"),
    (r"an $\epsilon$-DP bound of $O(\sqrt{n})$ pages 10--20", "an ε-DP bound of O(√n) pages 10–20"),
    (r"costs \$5", "costs $5"),
    ("0<delta<1 and T>0", "0<delta<1 and T>0"),
    ("Inference Scaling scriptsizeFLaws with varepsilon-privacy", "Inference Scaling FLaws with ε-privacy"),
    ("", ""),
])
def test_normalise_text(raw, clean):
    assert normalise_text(raw) == clean


@pytest.mark.parametrize(("field", "value", "says"), [
    ("authors", {"Ada": 1}, "field 'authors' must be a list of strings or one string"),
    ("categories", [["cs.CL"]], "field 'categories' must be a list of strings or one string"),
    ("published", "0000", "field 'published'"),
    ("url", "javascript:alert(1)", "field 'url' must be an http(s) URL"),
    ("title", "t" * 2_001, "field 'title' is 2001 characters, over the limit of 2000"),
    ("authors", ["Ada"] * 5_001, "field 'authors' has 5001 entries, over the limit of 5000"),
])
def test_malformed_or_oversized_fields_name_file_and_line(tmp_path, field, value, says):
    source = tmp_path / "papers.jsonl"
    records = [{"id": "ok", "title": "Fine"}, {"id": "bad", "title": "Bad", field: value}]
    source.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    with pytest.raises(BadRecord, match=re.escape(f"papers.jsonl:2: {says}")):
        read(source)


def test_control_characters_are_stripped_from_titles_abstracts_and_authors(tmp_path):
    source = tmp_path / "papers.jsonl"
    record = {"id": "a", "title": "Null\x00 and\x1b escape", "abstract": "Bell\x07.", "authors": ["Ada\x02 Lovelace"]}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    paper = read(source)[0]
    assert (paper.title, paper.abstract, paper.authors) == ("Null and escape", "Bell.", ["Ada Lovelace"])


def test_the_arxiv_snapshot_and_bibtex_are_held_to_the_same_limits(tmp_path):
    snapshot = tmp_path / "snapshot.json"
    record = {"id": "2401.00001", "title": "T", "abstract": "a" * 100_001, "versions": []}
    snapshot.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(BadRecord, match=r"snapshot.json:1: field 'abstract' is 100001 characters"):
        read(snapshot)
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k,\n  title = {" + "t" * 2_001 + "},\n}\n", encoding="utf-8")
    with pytest.raises(BadRecord, match=r"refs.bib:1: field 'title'"):
        read(bib)


def test_a_bibtex_url_that_is_not_http_falls_back_to_the_doi(tmp_path):
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{k,\n  title = {T},\n  doi = {10.1/x},\n  url = {javascript:alert(1)},\n}\n",
                   encoding="utf-8")
    assert read(bib)[0].url == "https://doi.org/10.1/x"
