"""Source files -> `Paper` records, one streaming reader per format.

Formats: contract JSON Lines (`.jsonl`, `.jsonl.gz`), CSV, Parquet, the Kaggle arXiv metadata
snapshot, BibTeX and the Hugging Face Daily Papers page saved as text. Every reader yields papers
with an id and a title, normalises titles and abstracts with `normalise_text`, and reports a bad
record as `BadRecord(file, line, reason)` with 1-based line numbers (Parquet: row numbers).

One module on purpose: pyproject lists packages explicitly, so a sub-package would not be installed.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import gzip
import hashlib
import html
import json
import math
import os
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from indexer.errors import BadRecord, SourceUnreadable, UnknownFormat
from indexer.papers import MAX_AUTHORS, MAX_CATEGORIES, MAX_LENGTHS, Paper, is_valid_unicode

FORMATS = ("jsonl", "csv", "parquet", "arxiv", "bibtex", "daily")

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


# ---------------------------------------------------------------------------------------------
# Text normalisation
# ---------------------------------------------------------------------------------------------

# Tags that separate blocks of text become a space; inline ones (<i>, <sub>) vanish, so that
# "H<sub>2</sub>O" stays one word.
_BLOCK_TAGS = {"p", "br", "div", "title", "sec", "li", "ul", "ol", "list", "list-item", "table", "tr", "td",
               "h1", "h2", "h3", "h4", "h5", "h6", "abstract"}
_TAG = re.compile(r"</?([A-Za-z][\w.:-]*)(?:\s+[\w.:-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*\s*/?>")

_ACCENTS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306", "H": "\u030b", "r": "\u030a",
            "k": "\u0328", "d": "\u0323", "b": "\u0331"}
# Letter accents (\c, \v, ...) need a brace or space after them, else `\bar`, `\delta` would match.
_ACCENT = re.compile(r"\\(?:([`'^\"~=.])|([cvuHrkdb])(?=[\s{]))\s*(?:\{\s*([A-Za-z])\s*\}|([A-Za-z]))")
_DOTLESS = re.compile(r"\\([ij])(?![A-Za-z])\s*")
_SPECIAL_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ",
                    "oe": "œ", "OE": "Œ", "l": "ł", "L": "Ł"}
_SPECIAL_LETTER = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![A-Za-z])\s*")
_ESCAPES = {"&": "&", "%": "%", "_": "_", "#": "#", " ": " ", ",": " ", ";": " ", ":": " ", "!": "",
            "-": "", "/": ""}
_ESCAPE = re.compile(r"\\([&%_# ,;:!\-/])")
_DROPPED_COMMANDS = re.compile(r"\\(?:cite[a-z]*|ref|eqref|label)\*?\s*(?:\[[^\]]*\]\s*)*\{[^{}]*\}")
_FRACTION = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
# Font, size and decoration commands carry no meaning for search: drop the command, keep its argument.
_STYLE_COMMAND = re.compile(
    r"\\(?:text(?:bf|it|tt|sc|sf|rm|sl|up|md|normal)|emph|math(?:bf|rm|it|tt|sf|cal|bb|frak|scr|op)|bm"
    r"|boldsymbol|operatorname|it|em|bf|sc|rm|tt|sf|sl|tiny|scriptsize|footnotesize|small|normalsize"
    r"|large|Large|LARGE|huge|Huge|bfseries|itshape|mdseries|upshape|ttfamily|scshape|hat|widehat"
    r"|tilde|widetilde|bar|overline|underline|vec|left|right|big|Big|bigg|Bigg|displaystyle|url|href"
    r"|noindent|xspace|protect)(?![A-Za-z])\s*"
)
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ",
    "nu": "ν", "xi": "ξ", "pi": "π", "varpi": "π", "rho": "ρ", "varrho": "ρ", "sigma": "σ",
    "varsigma": "ς", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ", "infty": "∞", "sqrt": "√",
    "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "~",
    "times": "×", "cdot": "·", "pm": "±", "to": "→", "rightarrow": "→", "leftarrow": "←", "in": "∈",
    "ldots": "…", "dots": "…", "cdots": "⋯", "partial": "∂", "nabla": "∇", "sum": "∑", "prod": "∏",
    "log": "log", "exp": "exp", "min": "min", "max": "max", "LaTeX": "LaTeX", "TeX": "TeX",
}
_COMMAND = re.compile(r"\\([A-Za-z]+)")
# Remnants of LaTeX whose backslash was lost upstream (the Daily Papers page has "varepsilon",
# "scriptsizeFLaws"). Only names that are never English words are touched.
_BARE_VAR_GREEK = re.compile(r"var(epsilon|phi|theta|rho|sigma|pi|kappa)")
_BARE_SIZE = re.compile(r"\b(?:scriptsize|footnotesize|normalsize)(?=[A-Z])")
_PLACEHOLDERS = {"\\$": "\ue000", "\\{": "\ue001", "\\}": "\ue002"}


def _replace_tag(match: re.Match[str]) -> str:
    name = match.group(1).lower().rsplit(":", 1)[-1]
    return " " if name in _BLOCK_TAGS else ""


def _replace_accent(match: re.Match[str]) -> str:
    mark = _ACCENTS[match.group(1) or match.group(2)]
    letter = match.group(3) or match.group(4)
    return unicodedata.normalize("NFC", letter + mark)


def _replace_command(match: re.Match[str]) -> str:
    name = match.group(1)
    return _SYMBOLS.get(name, name)  # an unknown command keeps its name: "\Algo" -> "Algo"


def _normalise_latex_commands(text: str) -> str:
    text = text.replace("\\\\", " ")  # a forced line break
    text = _DOTLESS.sub(r"\1", text)  # \'{\i} -> \'{i} -> í
    text = _ACCENT.sub(_replace_accent, text)
    text = _SPECIAL_LETTER.sub(lambda m: _SPECIAL_LETTERS[m.group(1)], text)
    text = _ESCAPE.sub(lambda m: _ESCAPES[m.group(1)], text)
    text = _DROPPED_COMMANDS.sub("", text)
    text = _FRACTION.sub(r"\1/\2", text)
    text = _STYLE_COMMAND.sub("", text)
    text = _COMMAND.sub(_replace_command, text)
    return re.sub(r"\\(?=[^A-Za-z]|$)", "", text)  # \( \) \[ \] and stray backslashes


def _normalise_latex(text: str) -> str:
    # Each step runs only when its trigger is present: most abstracts need none, and this runs
    # on every title and abstract of corpora with hundreds of thousands of papers.
    escaped = "\\" in text
    if escaped:
        for literal, placeholder in _PLACEHOLDERS.items():
            text = text.replace(literal, placeholder)
    text = text.replace("$", "")  # math keeps its content, loses its delimiters
    if escaped:
        text = _normalise_latex_commands(text)
    if "var" in text:
        text = _BARE_VAR_GREEK.sub(lambda m: _SYMBOLS["var" + m.group(1)], text)
    if "size" in text:
        text = _BARE_SIZE.sub("", text)
    if "``" in text or "''" in text:
        text = text.replace("``", "\u201c").replace("''", "\u201d")
    if "--" in text:
        text = re.sub(r"(?<![-<!])---(?![->])", "\u2014", text)
        text = re.sub(r"(?<![-<!])--(?![->])", "\u2013", text)
    text = text.replace("{", "").replace("}", "")
    if escaped:
        for literal, placeholder in _PLACEHOLDERS.items():
            text = text.replace(placeholder, literal[1])
    return text


# Control characters (U+0000-U+001F, U+007F) have no place in a title and break XML (the Atom
# feed): whitespace ones become spaces, the others go.
_CONTROL = {code: (" " if chr(code) in "\t\n\r\x0b\x0c" else None) for code in (*range(32), 127)}


def normalise_text(text: str) -> str:
    """Plain, single-spaced text from titles and abstracts that carry HTML/JATS markup, HTML
    entities or LaTeX (accents, escapes, braces, `$math$`); control characters removed."""
    if not text:
        return ""
    text = str(text).translate(_CONTROL)
    if "<" in text:
        text = _TAG.sub(_replace_tag, text)
    if "&" in text:
        text = html.unescape(text)
    text = _normalise_latex(text)
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Opening files
# ---------------------------------------------------------------------------------------------

def _check_readable(path: str) -> None:
    if os.path.isdir(path):
        raise SourceUnreadable(f"{path}: is a directory, not a file of papers")
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise SourceUnreadable(f"{path}: no such file") from None
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot be read ({error.strerror or error})") from None


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == _GZIP_MAGIC


def _numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of every line, gunzipping by magic bytes; decoding per line so that
    a bad byte or a truncated gzip is reported at its own line."""
    opener = gzip.open if _is_gzip(path) else open
    number = 0
    try:
        with opener(path, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                yield number, _decode_line(path, number, raw)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BadRecord(path, number + 1, f"gzip data truncated or corrupt ({error})") from None


def _decode_line(path: str, number: int, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRecord(path, number, "not UTF-8 text") from None
    return text.lstrip("\ufeff") if number == 1 else text


def _head_text(path: str, size: int = 65536) -> str:
    """The first bytes of a file (gunzipped) as text, for format sniffing."""
    try:
        with (gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as stream:
            head = stream.read(size)
    except (EOFError, zlib.error, OSError):
        return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


# ---------------------------------------------------------------------------------------------
# Field parsing shared by the contract formats (JSON Lines, CSV, Parquet)
# ---------------------------------------------------------------------------------------------

_DATE_PREFIX = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def _valid_date(year: str, month: str | None, day: str | None) -> str | None:
    if int(year) < 1000:  # "0000" is a placeholder, not a date
        return None
    try:
        if day:
            return dt.date(int(year), int(month or 0), int(day)).isoformat()
        if month:
            return f"{year}-{month}" if 1 <= int(month) <= 12 else None
        return year
    except ValueError:
        return None


def parse_published(value: Any) -> str | None:
    """`YYYY-MM-DD`, `YYYY-MM` or `YYYY` from a string, an ISO datetime, a year number or a date;
    raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():  # a year column that pandas made float
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    match = _DATE_PREFIX.match(value.strip()) if isinstance(value, str) else None
    date = _valid_date(*match.groups()) if match else None
    if date is None:
        raise ValueError(f"bad published date {value!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)")
    return date


def _split_authors(value: Any) -> list[str]:
    """Raises TypeError for anything but a string or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        # "Smith, John; Doe, Jane" keeps "Last, First" entries whole; otherwise " and " separates.
        parts = value.split(";") if ";" in value else re.split(r"\s+and\s+", value)
    else:
        parts = _strings(value)
    return [name for name in (normalise_text(part) for part in parts) if name]


def _split_categories(value: Any) -> list[str]:
    """Raises TypeError for anything but a string or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        # The contract says space-separated; "cs.CL, cs.LG" is common enough to accept too.
        parts = re.split(r"[;,]", value) if re.search(r"[;,]", value) else value.split()
    else:
        parts = _strings(value)
    return [part for part in (normalise_text(part) for part in parts) if part]


def _strings(value: Any) -> list[str]:
    """A list (or a Parquet/NumPy array) of strings; a mapping or a nested list is not one."""
    if isinstance(value, Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(type(value).__name__)
    parts = list(value)
    if not all(part is None or isinstance(part, str) for part in parts):
        raise TypeError("list holds non-strings")
    return [part for part in parts if part is not None]


def _text_field(record: Mapping[str, Any], name: str, path: str, line: int | None) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):  # a missing value in a Parquet/pandas column
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord(path, line, f"field '{name}' must be a string, not {type(value).__name__}")
    return _valid_unicode(str(value), name, path, line)


def _valid_unicode(text: str, name: str, path: str, line: int | None) -> str:
    if not is_valid_unicode(text):
        raise BadRecord(path, line, f"field '{name}' is not valid Unicode (a lone surrogate)")
    return text


def _check_lengths(paper: Paper, path: str, line: int | None) -> Paper:
    fields = {"id": [paper.id], "title": [paper.title], "abstract": [paper.abstract], "url": [paper.url or ""],
              "author": paper.authors, "category": paper.categories}
    for name, values in fields.items():
        for value in values:
            _valid_unicode(value, name, path, line)
            if len(value) > MAX_LENGTHS[name]:
                raise BadRecord(path, line, f"field '{name}' is {len(value)} characters, over the limit of "
                                f"{MAX_LENGTHS[name]}")
    counts = (("authors", paper.authors, MAX_AUTHORS), ("categories", paper.categories, MAX_CATEGORIES))
    for name, values, limit in counts:
        if len(values) > limit:
            raise BadRecord(path, line, f"field '{name}' has {len(values)} entries, over the limit of {limit}")
    if any(ord(c) < 32 for c in paper.id):
        raise BadRecord(path, line, "field 'id' holds control characters")
    return paper


# Characters a URL never holds unencoded (RFC 3986): one of them in a url is an attempt to break
# out of an HTML attribute (`https://x/" onmouseover="...`) or a careless paste.
_NOT_IN_URL = re.compile(r'[\s"<>\\`\x00-\x1f\x7f]')


def web_url(value: str | None) -> str | None:
    """The url if it is http(s) with a host; None for anything else (javascript:, data:, file:)."""
    url = (value or "").strip()
    if not url or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _record_url(record: Mapping[str, Any], path: str, line: int | None) -> str | None:
    url = _text_field(record, "url", path, line).strip()
    if url and web_url(url) is None:
        raise BadRecord(path, line, f"field 'url' must be an http(s) URL with a host (no spaces or quotes), "
                        f"not {url[:80]!r}")
    return url or None


def _list_field(record: Mapping[str, Any], name: str, split: Callable[[Any], list[str]], path: str,
                line: int | None) -> list[str]:
    """Authors or categories: a {"a": 1} or a [["a"]] is refused rather than read as "a" or "['a']"."""
    try:
        return split(record.get(name))
    except TypeError:
        raise BadRecord(path, line, f"field '{name}' must be a list of strings or one string") from None


def _record_id(record: Mapping[str, Any], path: str, line: int | None) -> str:
    value = _text_field(record, "id", path, line).strip()
    if not value:
        raise BadRecord(path, line, "record has no 'id'")
    return value


def _record_title(record: Mapping[str, Any], path: str, line: int | None) -> str:
    title = normalise_text(_text_field(record, "title", path, line))
    if not title:
        raise BadRecord(path, line, "record has no 'title'")
    return title


def paper_from_record(record: Mapping[str, Any], path: str, line: int | None) -> Paper:
    """A contract record (id, title, abstract, authors, categories, published, url) as a Paper;
    other fields are ignored."""
    paper_id = _record_id(record, path, line)
    title = _record_title(record, path, line)
    try:
        published = parse_published(record.get("published"))
    except ValueError as error:
        raise BadRecord(path, line, f"field 'published': {error}") from None
    authors = _list_field(record, "authors", _split_authors, path, line)
    categories = _list_field(record, "categories", _split_categories, path, line)
    url = _record_url(record, path, line)
    abstract = normalise_text(_text_field(record, "abstract", path, line))
    return _check_lengths(Paper(id=paper_id, title=title, abstract=abstract, authors=authors, categories=categories,
                                published=published, url=url), path, line)


# ---------------------------------------------------------------------------------------------
# JSON Lines and the arXiv metadata snapshot
# ---------------------------------------------------------------------------------------------

def _json_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _numbered_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BadRecord(path, number, f"not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise BadRecord(path, number, f"expected a JSON object, got {type(record).__name__}")
        yield number, record


def read_jsonl(path: str) -> Iterator[Paper]:
    for number, record in _json_records(path):
        yield paper_from_record(record, path, number)


def _is_arxiv_snapshot(record: Mapping[str, Any]) -> bool:
    return ("versions" in record or "update_date" in record) and "published" not in record


def _arxiv_published(record: Mapping[str, Any], path: str, line: int) -> str | None:
    """The date of v1 (the first submission); the snapshot's update_date when that is missing."""
    versions = record.get("versions") or []
    if isinstance(versions, list) and versions:
        first = next((v for v in versions if isinstance(v, dict) and v.get("version") == "v1"), versions[0])
        try:
            return parsedate_to_datetime(str(first.get("created"))).date().isoformat()
        except (TypeError, ValueError, AttributeError):
            pass  # fall back to update_date
    try:
        return parse_published(record.get("update_date"))
    except ValueError as error:
        raise BadRecord(path, line, f"field 'update_date': {error}") from None


def _arxiv_authors(record: Mapping[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = (" ".join(part for part in (entry[1], entry[0], *entry[2:]) if part)
                 for entry in parsed if isinstance(entry, list) and len(entry) >= 2)
        return [name for name in (normalise_text(n) for n in names) if name]
    authors = record.get("authors") or ""
    if not isinstance(authors, str):
        return _split_authors(authors)
    parts = re.split(r",|\s+and\s+", authors)
    return [name for name in (normalise_text(part) for part in parts) if name]


def _arxiv_paper(record: Mapping[str, Any], path: str, line: int) -> Paper:
    paper_id = _record_id(record, path, line)
    extra = {key: record[key] for key in ("doi", "journal-ref", "comments") if record.get(key)}
    try:
        authors = _arxiv_authors(record)
    except TypeError:
        raise BadRecord(path, line, "field 'authors' must be a list of strings or one string") from None
    return _check_lengths(Paper(
        id=paper_id,
        title=_record_title(record, path, line),
        abstract=normalise_text(_text_field(record, "abstract", path, line)),
        authors=authors,
        categories=_list_field(record, "categories", _split_categories, path, line),
        published=_arxiv_published(record, path, line),
        url=f"https://arxiv.org/abs/{paper_id}",
        extra=extra,
    ), path, line)


def read_arxiv(path: str) -> Iterator[Paper]:
    for number, record in _json_records(path):
        yield _arxiv_paper(record, path, number)


# ---------------------------------------------------------------------------------------------
# CSV and Parquet
# ---------------------------------------------------------------------------------------------

def read_csv(path: str) -> Iterator[Paper]:
    lines = (line for _, line in _numbered_lines(path))
    reader = csv.DictReader(lines)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        for column in ("id", "title"):
            if column not in header:
                raise BadRecord(path, 1, f"CSV header has no '{column}' column (header: {', '.join(header)})")
        start = reader.line_num + 1
        for row in reader:
            yield paper_from_record(row, path, start)  # the line where the (maybe multi-line) row starts
            start = reader.line_num + 1
    except csv.Error as error:
        raise BadRecord(path, reader.line_num, f"malformed CSV ({error})") from None


_CONTRACT_FIELDS = ("id", "title", "abstract", "authors", "categories", "published", "url")


def read_parquet(path: str) -> Iterator[Paper]:
    import pyarrow as pa  # imported here: only Parquet sources need it
    import pyarrow.parquet as pq

    try:
        table_file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise BadRecord(path, None, f"not a readable Parquet file ({error})") from None
    columns = [name for name in table_file.schema_arrow.names if name in _CONTRACT_FIELDS]
    row = 0
    for batch in table_file.iter_batches(columns=columns):
        for record in batch.to_pylist():
            row += 1
            yield paper_from_record(record, path, row)


# ---------------------------------------------------------------------------------------------
# BibTeX
# ---------------------------------------------------------------------------------------------

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_SKIPPED_ENTRIES = {"comment", "preamble"}
_BIB_KEY = re.compile(r"([^\s,={}()\"#]*)\s*,?")
_BIB_NAME = re.compile(r"[^\s,={}()\"#]+")
_BIB_WORD = re.compile(r"[^\s,#{}()\"=]+")


@dataclass
class _BibEntry:
    kind: str
    key: str
    fields: dict[str, str]
    line: int


class _BibScanner:
    """A small recursive-descent reader of BibTeX: entries, `@string` macros, `#` concatenation,
    nested braces and quoted values. Text outside entries is a comment, as in BibTeX itself."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text, self.pos = path, text, 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.macros = {name: f"{number:02d}" for name, number in _MONTHS.items()}

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def fail(self, pos: int, reason: str) -> BadRecord:
        return BadRecord(self.path, self.line_of(pos), reason)

    def entries(self) -> Iterator[_BibEntry]:
        while match := _ENTRY_START.search(self.text, self.pos):
            kind, start = match.group(1).lower(), match.start()
            close = "}" if match.group(2) == "{" else ")"
            self.pos = match.end()
            if kind in _SKIPPED_ENTRIES:
                self.pos = self._skip_balanced(start, close)
            elif kind == "string":
                self._read_fields(start, close, self.macros)
            else:
                yield self._read_entry(kind, start, close)

    def _skip_balanced(self, start: int, close: str) -> int:
        depth = 1
        for pos in range(self.pos, len(self.text)):
            char = self.text[pos]
            depth += (char in "{(") - (char in "})")
            if depth == 0:
                return pos + 1
        raise self.fail(start, "unterminated @comment or @preamble")

    def _read_entry(self, kind: str, start: int, close: str) -> _BibEntry:
        self._skip_space()
        key_match = _BIB_KEY.match(self.text, self.pos)
        key = ""
        if key_match and not self.text.startswith("=", key_match.end()):
            key, self.pos = key_match.group(1), key_match.end()
        fields: dict[str, str] = {}
        self._read_fields(start, close, fields)
        return _BibEntry(kind, key, fields, self.line_of(start))

    def _read_fields(self, start: int, close: str, into: dict[str, str]) -> None:
        while True:
            self._skip_space()
            if self.pos >= len(self.text):
                raise self.fail(start, "unterminated entry: missing closing brace")
            if self.text[self.pos] == close:
                self.pos += 1
                return
            name = self._read_name(start)
            self._skip_space()
            if not self.text.startswith("=", self.pos):
                raise self.fail(self.pos, f"expected '=' after field '{name}'")
            self.pos += 1
            into[name.lower()] = self._read_value(start)
            self._skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1

    def _read_name(self, start: int) -> str:
        match = _BIB_NAME.match(self.text, self.pos)
        if not match:
            if self.text.startswith("@", self.pos):  # the next entry began: this one lost its brace
                raise self.fail(start, "unterminated entry: missing closing brace")
            raise self.fail(self.pos, f"unexpected {self.text[self.pos]!r} where a field name belongs")
        self.pos = match.end()
        return match.group(0)

    def _read_value(self, start: int) -> str:
        parts = []
        while True:
            self._skip_space()
            parts.append(self._read_part(start))
            self._skip_space()
            if not self.text.startswith("#", self.pos):
                return "".join(parts)
            self.pos += 1

    def _read_part(self, start: int) -> str:
        char = self.text[self.pos] if self.pos < len(self.text) else ""
        if char == "{":
            return self._read_delimited(start, "}")
        if char == '"':
            return self._read_delimited(start, '"')
        match = _BIB_WORD.match(self.text, self.pos)
        if not match:
            raise self.fail(self.pos, "missing field value")
        self.pos = match.end()
        word = match.group(0)
        return word if word.isdigit() else self.macros.get(word.lower(), word)

    def _read_delimited(self, start: int, closing: str) -> str:
        """The text between a `{` or `"` and its partner; braces nest, and a backslash escapes
        the next character (so `\\{` and `\\"` do not count)."""
        depth, begin, pos = 0, self.pos + 1, self.pos + 1
        while pos < len(self.text):
            char = self.text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == closing and depth == 0:
                self.pos = pos + 1
                return self.text[begin:pos]
            depth += (char == "{") - (char == "}")
            if depth < 0:
                break
            pos += 1
        raise self.fail(start, "unterminated field value: unbalanced braces or quotes")

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1


def _split_outside_braces(value: str, separator: str) -> list[str]:
    parts, depth, last = [], 0, 0
    for match in re.finditer(rf"[{{}}]|{separator}", value, flags=re.IGNORECASE):
        token = match.group(0)
        if token in ("{", "}"):
            depth += 1 if token == "{" else -1
        elif depth == 0:
            parts.append(value[last:match.start()])
            last = match.end()
    parts.append(value[last:])
    return [part.strip() for part in parts]


def _split_bib_names(value: str) -> list[str]:
    """Split on " and " outside braces ("{Barnes and Noble}" is one name), turning "Last, First"
    and "Last, Jr, First" into "First Last Jr"; "others" (et al.) is dropped."""
    names = []
    for name in _split_outside_braces(value, r"\s+and\s+"):
        parts = _split_outside_braces(name, ",")
        if len(parts) >= 2:
            parts = [parts[-1], parts[0], *parts[1:-1]]
        person = normalise_text(" ".join(part for part in parts if part).replace("~", " "))
        if person and person.lower() != "others":
            names.append(person)
    return names


def _bib_month(value: str) -> int | None:
    value = normalise_text(value).lower()
    if value.isdigit() and 1 <= int(value) <= 12:
        return int(value)
    return _MONTHS.get(value[:3])


def _bib_published(fields: Mapping[str, str]) -> str | None:
    """From biblatex `date`, else `year` (+ `month`); lenient: BibTeX in the wild has years like
    "2020a" or "in press", which give the digits found or no date rather than an error."""
    if fields.get("date"):
        match = re.match(r"\s*(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", fields["date"])
        if match and (date := _valid_date(*match.groups())):
            return date
    year = re.search(r"\d{4}", fields.get("year", ""))
    if not year:
        return None
    month = _bib_month(fields.get("month", ""))
    return f"{year.group(0)}-{month:02d}" if month else year.group(0)


def _bib_arxiv_id(fields: Mapping[str, str]) -> str | None:
    eprint = normalise_text(fields.get("eprint", ""))
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    looks_arxiv = re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z.-]+/\d{7}(v\d+)?", eprint)
    if eprint and (prefix == "arxiv" or (not prefix and looks_arxiv)):
        return eprint
    return None


def _bib_doi(fields: Mapping[str, str]) -> str | None:
    doi = normalise_text(fields.get("doi", ""))
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE).strip()
    return doi or None


def _bib_paper(entry: _BibEntry, path: str) -> Paper:
    fields = entry.fields
    title = normalise_text(fields.get("title", "").replace("~", " "))
    if not title:
        raise BadRecord(path, entry.line, f"entry '{entry.key or '@' + entry.kind}' has no title")
    doi, arxiv_id = _bib_doi(fields), _bib_arxiv_id(fields)
    paper_id = doi or arxiv_id or entry.key
    if not paper_id:
        raise BadRecord(path, entry.line, "entry has no citation key, doi or eprint to use as id")
    venue = normalise_text(fields.get("journal") or fields.get("booktitle") or "")
    extra = {"doi": doi, "arxiv_id": arxiv_id, "bibtex_key": entry.key or None, "venue": venue or None,
             "entry_type": entry.kind}
    url = web_url(normalise_text(fields.get("url", ""))) or (
        f"https://doi.org/{doi}" if doi else f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)
    return _check_lengths(Paper(
        id=paper_id,
        title=title,
        abstract=normalise_text(fields.get("abstract", "").replace("~", " ")),
        authors=_split_bib_names(fields.get("author", "")),
        categories=[k for k in (normalise_text(k) for k in re.split(r"[,;]", fields.get("keywords", ""))) if k],
        published=_bib_published(fields),
        url=url,
        extra={key: value for key, value in extra.items() if value},
    ), path, entry.line)


def read_bibtex(path: str) -> Iterator[Paper]:
    text = "".join(line for _, line in _numbered_lines(path))
    for entry in _BibScanner(path, text).entries():
        yield _bib_paper(entry, path)


# ---------------------------------------------------------------------------------------------
# Hugging Face Daily Papers page, saved as text
# ---------------------------------------------------------------------------------------------
# Each paper: a title line, its abstract paragraph, then a block of "  • N authors" (or an
# organisation line such as "furiosa-ai FuriosaAI"), "·" and a date line "Jun 28, 2023 1" (date,
# optional upvotes). Some papers have no block at all: the next title follows the abstract.

_PAGE_HEADER = {"new", "get trending papers in your email inbox!", "subscribe", "daily papers",
                "byak and the research community", "trending papers"}
_MONTH_NAMES = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAILY_DATE = re.compile(rf"^{_MONTH_NAMES}\s+(\d{{1,2}})(?:,\s*(\d{{4}}))?(?:\s+(\d+))?$", re.IGNORECASE)
_AUTHOR_COUNT = re.compile(r"^•\s*(\d+)\s+authors?$")
_SUBMITTED_BY = re.compile(r"^Submitted by\s*(.*)$", re.IGNORECASE)
_ORGANISATION = re.compile(r"^[a-z0-9][\w.-]*\s+(\S.*)$")  # "furiosa-ai FuriosaAI": handle, then name


@dataclass
class _DailyLine:
    number: int
    text: str
    kind: str  # "text", "authors", "dot", "submitted", "date", "tail" (the text line just before "·")
    starts_paragraph: bool


@dataclass
class _DailyPaper:
    title: str
    line: int
    abstract: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    date: tuple[int, int, int | None] | None = None  # month, day, year when the page shows it
    closed: bool = False


def _daily_lines(lines: Iterable[tuple[int, str]]) -> list[_DailyLine]:
    result: list[_DailyLine] = []
    blank_before = True
    for number, raw in lines:
        text = raw.strip()
        if not text:
            blank_before = True
            continue
        kind = ("dot" if text == "·" else "authors" if _AUTHOR_COUNT.match(text)
                else "submitted" if _SUBMITTED_BY.match(text) else "text")
        if kind == "text" and result and result[-1].kind == "dot" and _DAILY_DATE.match(text):
            kind = "date"
        if kind == "dot" and result and result[-1].kind == "text":
            result[-1].kind = "tail"
        result.append(_DailyLine(number, text, kind, blank_before))
        blank_before = False
    return result


def _page_header(lines: list[_DailyLine]) -> tuple[int, tuple[int, int, int | None] | None]:
    """How many leading lines are the page header, and the page date shown there."""
    page_date = None
    for index, line in enumerate(lines):
        date = _DAILY_DATE.match(line.text)
        if line.text.lower() in _PAGE_HEADER:
            continue
        if date and not date.group(4) and page_date is None:
            page_date = _month_day_year(date)
            continue
        return index, page_date
    return len(lines), page_date


def _month_day_year(match: re.Match[str]) -> tuple[int, int, int | None]:
    month = _MONTHS[match.group(1)[:3].lower()]
    return month, int(match.group(2)), int(match.group(3)) if match.group(3) else None


def _is_prose(text: str) -> bool:
    """An abstract rather than a title: long, or several sentences, or a long period-ended one."""
    sentences = len(re.findall(r"[a-z)\]][.!?](?:\s|$)", text))
    return len(text) > 300 or sentences >= 2 or (text.endswith(".") and len(text.split()) >= 15)


def _daily_papers(lines: list[_DailyLine]) -> list[_DailyPaper]:
    papers: list[_DailyPaper] = []
    for line in lines:
        current = papers[-1] if papers and not papers[-1].closed else None
        if line.kind in ("text", "tail"):
            if current is not None and _is_prose(line.text):
                _add_abstract_text(current, line)
            elif line.kind == "tail" and current is not None:
                _set_organisation(current, line.text)
            elif current is not None and not line.starts_paragraph:
                _add_wrapped_text(current, line.text)
            else:
                papers.append(_DailyPaper(title=line.text, line=line.number))
        elif current is not None:
            _apply_meta(current, line)
    return papers


def _add_abstract_text(paper: _DailyPaper, line: _DailyLine) -> None:
    if paper.abstract and not line.starts_paragraph:
        paper.abstract[-1] += " " + line.text
    else:
        paper.abstract.append(line.text)


def _add_wrapped_text(paper: _DailyPaper, text: str) -> None:
    """A line that continues the paragraph before it, if the page was saved with wrapped lines."""
    if paper.abstract:
        paper.abstract[-1] += " " + text
    else:
        paper.title += " " + text


def _set_organisation(paper: _DailyPaper, text: str) -> None:
    match = _ORGANISATION.match(text)
    paper.extra["organisation"] = match.group(1) if match else text


def _apply_meta(paper: _DailyPaper, line: _DailyLine) -> None:
    if line.kind == "authors":
        paper.extra["author_count"] = int(_AUTHOR_COUNT.match(line.text).group(1))
    elif line.kind == "submitted":
        paper.extra["submitted_by"] = _SUBMITTED_BY.match(line.text).group(1).strip()
    elif line.kind == "date":
        match = _DAILY_DATE.match(line.text)
        paper.date = _month_day_year(match)
        if match.group(4):
            paper.extra["upvotes"] = int(match.group(4))
        paper.closed = True  # the date line ends a paper's block


def _page_year(page_date: tuple[int, int, int | None] | None, papers: list[_DailyPaper]) -> int:
    """The year of dates shown without one. The page omits the year only for dates in its own
    year, so any year it does show is an earlier one: without a year in the header, take the year
    after the latest one shown (never after the current year); with no years at all, the current
    year, or the previous one if the header's day is still to come this year."""
    today = dt.date.today()
    if page_date and page_date[2]:
        return page_date[2]
    shown = [paper.date[2] for paper in papers if paper.date and paper.date[2]]
    if shown:
        return min(max(shown) + 1, today.year)
    if page_date and (page_date[0], page_date[1]) > (today.month, today.day):
        return today.year - 1
    return today.year


def _daily_published(date: tuple[int, int, int | None] | None, page_year: int) -> str | None:
    if date is None:
        return None
    month, day, year = date
    year = year or page_year
    return _valid_date(str(year), f"{month:02d}", f"{day:02d}") or f"{year}-{month:02d}"


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > 80:
        slug = slug[:80].rsplit("-", 1)[0]
    return slug or hashlib.sha1(title.encode()).hexdigest()[:12]


def read_daily(path: str) -> Iterator[Paper]:
    """The page has no ids: each paper gets "hf-" + a slug of its title (stable across runs;
    a repeated slug within the file gets "-2", "-3", ...)."""
    lines = _daily_lines(_numbered_lines(path))
    start, page_date = _page_header(lines)
    papers = _daily_papers(lines[start:])
    year = _page_year(page_date, papers)
    seen: dict[str, int] = {}
    for paper in papers:
        title = normalise_text(paper.title)
        if not title:
            raise BadRecord(path, paper.line, "paper has an empty title")
        slug = "hf-" + _slug(title)
        seen[slug] = seen.get(slug, 0) + 1
        paper_id = slug if seen[slug] == 1 else f"{slug}-{seen[slug]}"
        yield _check_lengths(Paper(id=paper_id, title=title, abstract=normalise_text(" ".join(paper.abstract)),
                                   published=_daily_published(paper.date, year), extra=dict(paper.extra)),
                             path, paper.line)


# ---------------------------------------------------------------------------------------------
# Format detection and the entry point
# ---------------------------------------------------------------------------------------------

_EXTENSIONS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".csv": "csv", ".parquet": "parquet",
               ".pq": "parquet", ".bib": "bibtex", ".bibtex": "bibtex"}
_BIB_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)


def _looks_like_daily(head: str) -> bool:
    lines = [line.strip() for line in head.splitlines()]
    authors = sum(1 for line in lines if _AUTHOR_COUNT.match(line))
    return "daily papers" in (line.lower() for line in lines[:40]) or (authors >= 1 and "·" in lines)


def _json_flavour(path: str) -> str:
    """"arxiv" when the first record looks like the Kaggle snapshot, else the contract's "jsonl"."""
    for _, line in _numbered_lines(path):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return "jsonl"  # the reader reports the bad line
            return "arxiv" if isinstance(record, dict) and _is_arxiv_snapshot(record) else "jsonl"
    return "jsonl"


def _sniff(path: str) -> str | None:
    with open(path, "rb") as stream:
        if stream.read(4) == _PARQUET_MAGIC:
            return "parquet"
    head = _head_text(path)
    first_line = head.lstrip().split("\n", 1)[0].lower()
    if head.lstrip().startswith("{"):
        return "json"
    if _looks_like_daily(head):
        return "daily"
    if _BIB_ENTRY.search(head):
        return "bibtex"
    if {"id", "title"} <= {column.strip().strip('"') for column in first_line.split(",")}:
        return "csv"
    return None


def _extension(path: str) -> str:
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[1]


def detect_format(path: str) -> str:
    """The format of a source file (one of FORMATS), from its extension and, where that is not
    enough (.json, .txt, no extension), its first bytes."""
    path = os.fspath(path)
    _check_readable(path)
    kind = _EXTENSIONS.get(_extension(path)) or _sniff(path)
    if kind == "json":
        return _json_flavour(path)
    if kind is None:
        raise UnknownFormat(f"{path}: cannot tell the format of this file; pass --format, one of: "
                            f"{', '.join(FORMATS)}")
    return kind


_READERS: dict[str, Callable[[str], Iterator[Paper]]] = {
    "jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet, "arxiv": read_arxiv,
    "bibtex": read_bibtex, "daily": read_daily,
}


def read_papers(path: str, format: str | None = None) -> Iterator[Paper]:
    """Streams the papers of one source file. The file and the format are checked at once (so a
    missing file fails before iteration starts); bad records raise BadRecord as they are met."""
    path = os.fspath(path)
    if format is None:
        format = detect_format(path)
    elif format not in _READERS:
        raise UnknownFormat(f"{path}: unknown format {format!r}; accepted formats: {', '.join(FORMATS)}")
    else:
        _check_readable(path)
    return _READERS[format](path)
