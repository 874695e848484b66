"""Normalising text: what every reader does to titles, abstracts, author names and keywords.

Owns `normalise_text` (HTML/JATS tags and entities, LaTeX accents, escapes, commands and math
delimiters, control characters, whitespace, NFC) and `normalised_parts`, the non-empty normalised
pieces of a split field. Imports nothing from the other reader modules.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

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


def normalised_parts(parts: Iterable[str]) -> list[str]:
    """`normalise_text` of each part, the empty results dropped (authors, categories, keywords)."""
    return [text for text in (normalise_text(part) for part in parts) if text]
