"""Reference-manager libraries (BibTeX, RIS, CSL-JSON) as researchers export them: a file survives
the entries that are not papers (each one named with its key and line), two papers that share an
id are both kept, strict mode refuses the file at the entry to fix, and an import says what it
matched, what the index lacks and what it skipped.

Every file is written here, in the shape its tool writes it: hand-written BibTeX, JabRef, Zotero
Better BibTeX, Zotero RIS, EndNote RIS, Mendeley RIS, Zotero CSL-JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import BadRecord
from indexer.paper_index import PaperIndex
from indexer.papers import Paper
from indexer.readers.bibtex import read_bibtex
from indexer.readers.csl import looks_like_csl, read_csl
from indexer.readers.entries import Skipped
from indexer.readers.ris import looks_like_ris, read_ris
from service.library import is_csl_json, match_library
from tests.conftest import HashingEncoder

ATTENTION = "Attention Is All You Need"
BERT = "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
ZOTERO_TAGS = ["Computer Science - Computation and Language", "Computer Science - Machine Learning"]
ATTENTION_ABSTRACT = ("The dominant sequence transduction models are based on complex recurrent or convolutional "
                      "neural networks in an encoder-decoder configuration.")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line holding `needle`: what a user's editor shows."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


def lenient(reader, path: Path) -> tuple[list[Paper], list[Skipped]]:
    skipped: list[Skipped] = []
    papers = list(reader(str(path), skipped))
    return papers, skipped


# --- BibTeX -----------------------------------------------------------------------------------------

HAND_WRITTEN = r"""% my references, kept by hand
@string{nips = "Advances in Neural Information Processing Systems"}

@inproceedings{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
  booktitle = nips,
  year = 2017,
  eprint = {1706.03762},
  archivePrefix = {arXiv}
}

@misc{todo-read-later,
  author = {Someone},
  note = {the talk from Tuesday, find the title}
}

@article{devlin2019,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author = {Devlin, Jacob and Chang, Ming-Wei},
  year = {2019},
  doi = {10.18653/v1/N19-1423}
}
"""

JABREF = r"""% This file was created with JabRef 5.9.
% Encoding: UTF-8

@Article{Vaswani2017,
  author        = {Ashish Vaswani and Noam Shazeer},
  title         = {Attention Is All You Need},
  year          = {2017},
  archiveprefix = {arXiv},
  eprint        = {1706.03762},
  primaryclass  = {cs.CL},
}

@Book{Goodfellow2016,
  author    = {Ian Goodfellow and Yoshua Bengio and Aaron Courville},
  publisher = {MIT Press},
  title     = {Deep Learning},
  year      = {2016},
}

@Comment{jabref-meta: databaseType:bibtex;}

@Comment{jabref-meta: grouping:
0 AllEntriesGroup:;
}
"""

BETTER_BIBTEX = r"""@misc{pythonsoftwarefoundationPythonDocumentation2023,
  author = {{Python Software Foundation}},
  year = {2023},
  urldate = {2023-05-01},
  howpublished = {https://docs.python.org/3/},
  langid = {english}
}

@misc{vaswaniAttentionAllYou2017,
  title = {Attention {{Is All You Need}}},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2017},
  month = jun,
  number = {arXiv:1706.03762},
  eprint = {1706.03762},
  primaryclass = {cs},
  publisher = {arXiv},
  doi = {10.48550/arXiv.1706.03762},
  urldate = {2023-05-01},
  archiveprefix = {arXiv},
  keywords = {Computer Science - Computation and Language,Computer Science - Machine Learning},
  file = {/Users/ada/Zotero/storage/ABCD1234/Vaswani et al. - 2017 - Attention Is All You Need.pdf}
}

@online{zoteroBlogPost2024,
  urldate = {2024-01-10},
  url = {https://www.zotero.org/blog/},
  langid = {english}
}
"""


def test_a_hand_written_library_survives_an_entry_without_title(tmp_path):
    path = write(tmp_path / "refs.bib", HAND_WRITTEN)
    papers, skipped = lenient(read_bibtex, path)
    assert [paper.title for paper in papers] == [ATTENTION, BERT]
    assert papers[0].extra["venue"] == "Advances in Neural Information Processing Systems"
    assert skipped == [Skipped(str(path), line_of(path, "@misc{todo-read-later"), "todo-read-later",
                               "entry 'todo-read-later' has no title")]


def test_strict_mode_refuses_the_file_at_the_entry_without_title(tmp_path):
    path = write(tmp_path / "refs.bib", HAND_WRITTEN)
    with pytest.raises(BadRecord) as error:
        list(read_bibtex(str(path)))
    assert (error.value.file, error.value.line) == (str(path), line_of(path, "@misc{todo-read-later"))
    assert "todo-read-later" in error.value.reason and "no title" in error.value.reason


def test_a_jabref_library_reads_whole_with_its_comments_left_out(tmp_path):
    path = write(tmp_path / "jabref.bib", JABREF)
    papers, skipped = lenient(read_bibtex, path)
    assert [(paper.id, paper.title) for paper in papers] == [("1706.03762", ATTENTION),
                                                            ("Goodfellow2016", "Deep Learning")]
    assert papers[1].authors == ["Ian Goodfellow", "Yoshua Bengio", "Aaron Courville"]
    assert skipped == []


def test_a_better_bibtex_export_keeps_its_papers_and_names_the_web_pages_it_skips(tmp_path):
    path = write(tmp_path / "zotero.bib", BETTER_BIBTEX)
    papers, skipped = lenient(read_bibtex, path)
    (attention,) = papers
    assert attention.title == ATTENTION and attention.published == "2017-06"
    assert attention.id == "10.48550/arxiv.1706.03762" and attention.extra["arxiv_id"] == "1706.03762"
    assert attention.categories == ZOTERO_TAGS
    assert [(entry.key, entry.line, entry.kept_as) for entry in skipped] == [
        ("pythonsoftwarefoundationPythonDocumentation2023", 1, None),
        ("zoteroBlogPost2024", line_of(path, "@online{zoteroBlogPost2024"), None)]
    assert all("no title" in entry.reason for entry in skipped)


JUNK_DOI = r"""@incollection{smithIntroduction2019,
  title = {Introduction},
  author = {Smith, Ann},
  booktitle = {Handbook of Learning Systems},
  year = {2019},
  doi = {10.1007/978-3-030-12345-6}
}

@incollection{leeKernelMethods2019,
  title = {Kernel Methods},
  author = {Lee, Bo},
  booktitle = {Handbook of Learning Systems},
  year = {2019},
  doi = {10.1007/978-3-030-12345-6}
}

@incollection{kimGraphLearning2019,
  title = {Graph Learning},
  author = {Kim, Cy},
  booktitle = {Handbook of Learning Systems},
  year = {2019},
  doi = {https://doi.org/10.1007/978-3-030-12345-6}
}
"""


def test_chapters_sharing_a_junk_doi_are_all_kept_and_the_conflicts_named(tmp_path):
    path = write(tmp_path / "chapters.bib", JUNK_DOI)
    papers, skipped = lenient(read_bibtex, path)
    assert [(paper.id, paper.title) for paper in papers] == [
        ("10.1007/978-3-030-12345-6", "Introduction"), ("leeKernelMethods2019", "Kernel Methods"),
        ("kimGraphLearning2019", "Graph Learning")]
    first = line_of(path, "@incollection{smithIntroduction2019")
    assert [(entry.key, entry.line, entry.kept_as) for entry in skipped] == [
        ("leeKernelMethods2019", line_of(path, "@incollection{leeKernelMethods2019"), "leeKernelMethods2019"),
        ("kimGraphLearning2019", line_of(path, "@incollection{kimGraphLearning2019"), "kimGraphLearning2019")]
    for entry in skipped:
        assert f"'smithIntroduction2019' (line {first})" in entry.reason
        assert "10.1007/978-3-030-12345-6" in entry.reason
    # strict mode keeps both too: a conflict loses no paper, so it is not an error
    assert [paper.id for paper in read_bibtex(str(path))] == [paper.id for paper in papers]


def test_dois_that_differ_only_in_case_or_prefix_are_one_paper(tmp_path):
    path = write(tmp_path / "dupes.bib", (
        "@article{a, title = {Deep Residual Learning}, doi = {10.1109/CVPR.2016.90}}\n"
        "@article{b, title = {Deep residual learning.}, doi = {https://doi.org/10.1109/cvpr.2016.90}}\n"
        "@article{c, title = {Identity Mappings in Deep Residual Networks}, doi = {DOI:10.1109/Cvpr.2016.90}}\n"))
    papers, skipped = lenient(read_bibtex, path)
    assert [paper.id for paper in papers] == ["10.1109/cvpr.2016.90", "10.1109/cvpr.2016.90", "c"]
    assert papers[0].url == "https://doi.org/10.1109/CVPR.2016.90"  # shown as the publisher writes it
    assert [(entry.key, entry.line, entry.kept_as) for entry in skipped] == [("c", 3, "c")]
    assert "shares DOI 10.1109/cvpr.2016.90 with 'a' (line 1)" in skipped[0].reason


def test_a_doi_field_that_holds_no_doi_is_not_an_id(tmp_path):
    path = write(tmp_path / "junk.bib", "@article{a, title = {One}, doi = {N/A}}\n"
                                        "@article{b, title = {Two}, doi = {-}}\n")
    papers, skipped = lenient(read_bibtex, path)
    assert [paper.id for paper in papers] == ["a", "b"] and skipped == []


def test_a_repeated_citation_key_keeps_the_first_entry_and_names_the_second(tmp_path):
    path = write(tmp_path / "keys.bib", (
        "@article{lee2020, title = {Sparse Attention}, year = 2020}\n"
        "@article{lee2020, title = {Dense Retrieval}, year = 2020}\n"))
    papers, skipped = lenient(read_bibtex, path)
    assert [paper.title for paper in papers] == ["Sparse Attention"]
    assert [(entry.key, entry.line) for entry in skipped] == [("lee2020", 2)]
    assert "line 1" in skipped[0].reason
    with pytest.raises(BadRecord) as error:  # strict: two papers under one id cannot both be kept
        list(read_bibtex(str(path)))
    assert (error.value.file, error.value.line) == (str(path), 2)


# --- RIS --------------------------------------------------------------------------------------------

ZOTERO_RIS = f"""TY  - PREPRINT
TI  - {ATTENTION}
AU  - Vaswani, Ashish
AU  - Shazeer, Noam
AB  - {ATTENTION_ABSTRACT}
DA  - 2017/06/12/
PY  - 2017
DO  - 10.48550/arXiv.1706.03762
DP  - arXiv.org
PB  - arXiv
UR  - http://arxiv.org/abs/1706.03762
Y2  - 2023/05/01/09:12:44
KW  - Computer Science - Computation and Language
KW  - Computer Science - Machine Learning
N1  - arXiv:1706.03762 [cs]
ER  - 

TY  - ELEC
AU  - Python Software Foundation
UR  - https://docs.python.org/3/
Y2  - 2023/05/01/09:15:02
ER  - 

TY  - BOOK
TI  - Deep Learning
AU  - Goodfellow, Ian
AU  - Bengio, Yoshua
DA  - 2016///
PY  - 2016
PB  - MIT Press
ER  - 
"""

ENDNOTE_RIS = """TY  - CONF
AU  - Devlin, Jacob
AU  - Chang, Ming-Wei
T1  - BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding
T2  - Proceedings of the 2019 Conference of the North American Chapter of the Association for Computational \
Linguistics
PY  - 2019
Y1  - 2019/06/02/
SP  - 4171
EP  - 4186
DO  - 10.18653/v1/N19-1423
N2  - We introduce a new language representation model called BERT, which stands for
Bidirectional Encoder Representations from Transformers.
KW  - language models
KW  - pre-training
ID  - 12
ER  - 

TY  - JOUR
AU  - He, Kaiming
T1  - Deep Residual Learning for Image Recognition
PY  - 2016
ID  - 12
ER  - 
"""


def test_a_zotero_ris_export_gives_its_papers_and_names_the_web_page_it_skips(tmp_path):
    path = write(tmp_path / "Exported Items.ris", ZOTERO_RIS)
    papers, skipped = lenient(read_ris, path)
    attention, book = papers
    assert (attention.id, attention.title, attention.abstract) == (
        "10.48550/arxiv.1706.03762", ATTENTION, ATTENTION_ABSTRACT)
    assert attention.authors == ["Ashish Vaswani", "Noam Shazeer"] and attention.published == "2017-06-12"
    assert attention.extra["arxiv_id"] == "1706.03762" and attention.url == "http://arxiv.org/abs/1706.03762"
    assert attention.categories == ZOTERO_TAGS
    # no DOI, no arXiv id, no ID: a key made as Google Scholar makes them
    assert (book.id, book.title, book.published) == ("goodfellow2016deep", "Deep Learning", "2016")
    assert skipped == [Skipped(str(path), line_of(path, "TY  - ELEC"), "", "ELEC entry has no title")]
    with pytest.raises(BadRecord) as error:
        list(read_ris(str(path)))
    assert (error.value.file, error.value.line) == (str(path), line_of(path, "TY  - ELEC"))


def test_an_endnote_ris_export_joins_values_continued_over_lines(tmp_path):
    path = write(tmp_path / "endnote.txt", ENDNOTE_RIS)
    papers, skipped = lenient(read_ris, path)
    (bert,) = papers
    assert (bert.id, bert.title) == ("10.18653/v1/n19-1423", BERT)
    assert bert.abstract == ("We introduce a new language representation model called BERT, which stands for "
                             "Bidirectional Encoder Representations from Transformers.")
    assert bert.authors == ["Jacob Devlin", "Ming-Wei Chang"] and bert.published == "2019-06-02"
    assert bert.extra["venue"].endswith("Association for Computational Linguistics")
    assert bert.categories == ["language models", "pre-training"] and bert.extra["ris_id"] == "12"
    assert [(entry.key, entry.line) for entry in skipped] == [("12", line_of(path, "TY  - JOUR"))]
    assert "repeats the key of the entry at line 1" in skipped[0].reason


def test_a_ris_file_cut_short_names_the_unfinished_entry(tmp_path):
    path = write(tmp_path / "cut.ris", ZOTERO_RIS + "TY  - JOUR\nTI  - Half an Entry\nAB  - The export stopp")
    papers, skipped = lenient(read_ris, path)
    assert [paper.title for paper in papers] == [ATTENTION, "Deep Learning"]
    last = len(path.read_text(encoding="utf-8").splitlines()) - 2
    assert (skipped[-1].line, skipped[-1].key) == (last, "") and "cut short" in skipped[-1].reason


def test_mendeley_ris_ids_are_citation_keys_and_stand_in_for_a_shared_doi(tmp_path):
    path = write(tmp_path / "mendeley.ris", (
        "TY  - CHAP\nTI  - Introduction\nDO  - 10.1007/978-3-030-12345-6\nID  - Smith2019\nER  - \n\n"
        "TY  - CHAP\nTI  - Kernel Methods\nDO  - 10.1007/978-3-030-12345-6\nID  - Lee2019\nER  - \n"))
    papers, skipped = lenient(read_ris, path)
    assert [paper.id for paper in papers] == ["10.1007/978-3-030-12345-6", "Lee2019"]
    assert [(entry.key, entry.line, entry.kept_as) for entry in skipped] == [("Lee2019", 7, "Lee2019")]
    assert "'Smith2019' (line 1)" in skipped[0].reason


def test_ris_entries_without_doi_or_id_keep_apart_under_made_keys(tmp_path):
    path = write(tmp_path / "zotero.ris", (
        "TY  - JOUR\nTI  - Deep Kernels\nAU  - Smith, Ann\nPY  - 2020\nER  - \n\n"
        "TY  - JOUR\nTI  - Deep Forests\nAU  - Smith, Bob\nPY  - 2020\nER  - \n"))
    papers, skipped = lenient(read_ris, path)
    assert [(paper.id, paper.title) for paper in papers] == [("smith2020deep", "Deep Kernels"),
                                                            ("smith2020deepa", "Deep Forests")]
    assert skipped == []


# --- CSL-JSON ---------------------------------------------------------------------------------------

ZOTERO_CSL = [
    {"id": "http://zotero.org/users/local/kQ9dX2Lm/items/8ZJ3K2QX", "type": "article", "title": ATTENTION,
     "abstract": ATTENTION_ABSTRACT, "DOI": "10.48550/arXiv.1706.03762", "note": "arXiv:1706.03762 [cs]",
     "number": "arXiv:1706.03762", "publisher": "arXiv", "source": "arXiv.org",
     "URL": "http://arxiv.org/abs/1706.03762",
     "author": [{"family": "Vaswani", "given": "Ashish"}, {"family": "Shazeer", "given": "Noam"}],
     "accessed": {"date-parts": [["2023", 5, 1]]}, "issued": {"date-parts": [["2017", 6, 12]]}},
    {"id": "http://zotero.org/users/local/kQ9dX2Lm/items/P4T7WEB1", "type": "webpage",
     "URL": "https://docs.python.org/3/", "author": [{"literal": "Python Software Foundation"}],
     "accessed": {"date-parts": [["2023", 5, 1]]}},
    {"id": "http://zotero.org/users/local/kQ9dX2Lm/items/BRT19NAA", "type": "paper-conference", "title": BERT,
     "container-title": "Proceedings of the 2019 Conference of the North American Chapter of the Association for "
                        "Computational Linguistics", "page": "4171–4186", "DOI": "10.18653/v1/N19-1423",
     "author": [{"family": "Devlin", "given": "Jacob"}, {"family": "Chang", "given": "Ming-Wei"}],
     "issued": {"date-parts": [["2019", 6]]}},
    {"id": "vanderMaaten2008", "type": "article-journal", "title": "Visualizing Data using t-SNE",
     "author": [{"family": "Maaten", "given": "Laurens", "non-dropping-particle": "van der"}],
     "container-title": "Journal of Machine Learning Research", "issued": {"date-parts": [[2008]]}},
]


def write_csl(path: Path, items: list) -> Path:
    return write(path, json.dumps(items, indent="\t", ensure_ascii=False) + "\n")  # as Zotero writes it


def test_a_zotero_csl_json_export_gives_its_papers_and_names_the_web_page_it_skips(tmp_path):
    path = write_csl(tmp_path / "Exported Items.json", ZOTERO_CSL)
    papers, skipped = lenient(read_csl, path)
    attention, bert, tsne = papers
    assert (attention.id, attention.title) == ("10.48550/arxiv.1706.03762", ATTENTION)
    assert attention.published == "2017-06-12"
    assert attention.authors == ["Ashish Vaswani", "Noam Shazeer"] and attention.extra["arxiv_id"] == "1706.03762"
    assert (bert.id, bert.published) == ("10.18653/v1/n19-1423", "2019-06")
    assert bert.extra["entry_type"] == "paper-conference" and bert.extra["venue"].endswith("Computational Linguistics")
    assert bert.url == "https://doi.org/10.18653/v1/N19-1423"
    assert (tsne.id, tsne.authors, tsne.published) == ("vanderMaaten2008", ["Laurens van der Maaten"], "2008")
    web_page = "http://zotero.org/users/local/kQ9dX2Lm/items/P4T7WEB1"
    assert skipped == [Skipped(str(path), line_of(path, "P4T7WEB1") - 1, web_page, f"item '{web_page}' has no title")]
    with pytest.raises(BadRecord) as error:
        list(read_csl(str(path)))
    assert (error.value.file, error.value.line) == (str(path), line_of(path, "P4T7WEB1") - 1)


def test_csl_json_items_sharing_a_doi_under_different_titles_are_both_kept(tmp_path):
    items = [{"id": "smith2019", "type": "chapter", "title": "Introduction", "DOI": "10.1007/978-3-030-12345-6"},
             {"id": "lee2019", "type": "chapter", "title": "Kernel Methods", "DOI": "10.1007/978-3-030-12345-6"}]
    path = write_csl(tmp_path / "chapters.json", items)
    papers, skipped = lenient(read_csl, path)
    assert [paper.id for paper in papers] == ["10.1007/978-3-030-12345-6", "lee2019"]
    assert [(entry.key, entry.kept_as) for entry in skipped] == [("lee2019", "lee2019")]


def test_a_broken_csl_json_file_is_refused_at_its_line_in_either_mode(tmp_path):
    path = write(tmp_path / "broken.json", '[\n  {"id": "a", "type": "article", "title": "Fine"},\n  {"id": "b",\n]\n')
    with pytest.raises(BadRecord) as error:
        list(read_csl(str(path), []))
    assert (error.value.file, error.value.line) == (str(path), 4) and "not valid JSON" in error.value.reason


def test_a_csl_json_item_that_is_not_an_object_is_skipped(tmp_path):
    path = write(tmp_path / "odd.json", '[\n  "a string",\n  {"id": "a", "type": "article", "title": "Fine"}\n]\n')
    papers, skipped = lenient(read_csl, path)
    assert [paper.id for paper in papers] == ["a"] and [(entry.line, entry.key) for entry in skipped] == [(2, "")]


# --- telling the formats apart ----------------------------------------------------------------------

def test_content_tells_ris_and_csl_json_from_the_other_formats(tmp_path):
    csl = json.dumps(ZOTERO_CSL, indent="\t")
    assert looks_like_ris(ZOTERO_RIS) and looks_like_ris(ENDNOTE_RIS)
    assert looks_like_ris("Scopus\nEXPORT DATE: 01 May 2023\n\nTY  - JOUR\nTI  - A title\nER  - \n")
    assert looks_like_csl(csl) and looks_like_csl(csl[:200])  # the first bytes are enough
    for other in (HAND_WRITTEN, BETTER_BIBTEX, csl, '{"id": "2503.11731", "title": "A title"}\n', "id,title\n1,A\n"):
        assert not looks_like_ris(other)
    for other in (ZOTERO_RIS, HAND_WRITTEN, '["2503.11731", "10.1145/3397271.3401075"]',
                  '{"id": "2503.11731", "title": "A title"}\n', "[]"):
        assert not looks_like_csl(other)


# --- importing a library ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index(tmp_path_factory) -> PaperIndex:
    folder = tmp_path_factory.mktemp("library-index")
    records = [{"id": "1706.03762", "title": ATTENTION, "abstract": ATTENTION_ABSTRACT},
               {"id": "10.18653/v1/N19-1423", "title": BERT},
               {"id": "hf-deep-learning-book", "title": "Deep Learning"}]
    source = write(folder / "papers.jsonl", "".join(json.dumps(record) + "\n" for record in records))
    build_index([str(source)], folder / "index", HashingEncoder(), progress=False)
    return PaperIndex.load(folder / "index")


@pytest.mark.parametrize("name, content", [
    ("library.ris", ZOTERO_RIS + ENDNOTE_RIS),
    ("library.json", json.dumps(ZOTERO_CSL, indent="\t")),
    ("library.bib", BETTER_BIBTEX + HAND_WRITTEN),
])
def test_an_import_names_what_it_matched_what_the_index_lacks_and_what_it_skipped(index, name, content):
    result = match_library(index, content.encode())
    assert result.matched[0] == "1706.03762"  # by the arXiv DOI's id, whatever the format
    assert set(result.matched) <= {"1706.03762", "10.18653/v1/N19-1423", "hf-deep-learning-book"}
    assert result.skipped and all(entry.path == name and entry.line for entry in result.skipped)
    assert [entry.title for entry in result.not_in_index] == result.unmatched
    for entry in result.not_in_index:
        assert content.splitlines()[entry.line - 1].lstrip().startswith(("TY  -", "@", "{"))


def test_an_import_of_a_csl_json_file_lists_the_entry_the_index_lacks(index):
    result = match_library(index, json.dumps(ZOTERO_CSL, indent="\t").encode())
    assert result.matched == ["1706.03762", "10.18653/v1/N19-1423"]
    (tsne,) = result.not_in_index
    assert (tsne.key, tsne.title) == ("vanderMaaten2008", "Visualizing Data using t-SNE")
    assert [entry.key for entry in result.skipped] == ["http://zotero.org/users/local/kQ9dX2Lm/items/P4T7WEB1"]


def test_an_import_that_cannot_be_read_names_the_upload_and_line_not_a_temporary_file(index):
    with pytest.raises(BadRecord) as error:
        match_library(index, b"@article{a,\n  title = {Open {brace},\n  year = 2020\n}\n")
    assert (error.value.file, error.value.line) == ("library.bib", 1)


def test_a_list_of_ids_is_not_taken_for_csl_json():
    assert is_csl_json(json.dumps(ZOTERO_CSL).encode())
    assert not is_csl_json(b'["2503.11731", "10.1145/3397271.3401075"]') and not is_csl_json(b"[]")


def test_the_index_command_lists_what_it_skipped_and_strict_stops_there(tmp_path):
    import subprocess

    from tests.conftest import paperlens_command

    library = write(tmp_path / "library.bib", """@article{good2020,
  title = {A Good Paper on Graphs},
  author = {Smith, Jane},
  year = {2020},
  doi = {10.1000/XYZ}
}
@misc{webpage,
  howpublished = {\\url{https://example.org}},
}
@inproceedings{other2021,
  title = {Another Paper Entirely},
  year = {2021},
  doi = {https://doi.org/10.1000/xyz}
}
""")
    run = subprocess.run([*paperlens_command(), "index", str(library), "--index", str(tmp_path / "index"),
                          "--no-progress"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("indexed 2 papers into")
    assert lines[0].endswith("library entries: 1 skipped (not papers), 1 kept under their own key, listed below")
    assert lines[1] == f"  {library}:7: webpage: entry 'webpage' has no title"
    assert lines[2].startswith(f"  {library}:10: other2021: shares DOI 10.1000/xyz with 'good2020'")
    assert {p.id for p in PaperIndex.load(tmp_path / "index").papers} == {"10.1000/xyz", "other2021"}

    strict = subprocess.run([*paperlens_command(), "index", str(library), "--index", str(tmp_path / "strict"),
                             "--strict", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert strict.returncode == 2
    assert strict.stderr.strip().endswith(f"{library}:7: entry 'webpage' has no title")
    assert not (tmp_path / "strict").exists()
