"""Opening source files: the readable-file check, gzip by magic bytes, numbered and decoded lines,
and the first text of a file for format sniffing.

A bad byte or truncated gzip data is a `BadRecord` naming the file and the 1-based line; a missing
or unreadable file is `SourceUnreadable`. Imports nothing from the other reader modules.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from indexer.errors import BadRecord, SourceUnreadable

_GZIP_MAGIC = b"\x1f\x8b"


def check_readable(path: str) -> None:
    if os.path.isdir(path):
        raise SourceUnreadable(f"{path}: is a directory, not a file of papers")
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise SourceUnreadable(f"{path}: no such file") from None
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot be read ({error.strerror or error})") from None


def starts_with(path: str, magic: bytes) -> bool:
    """Whether the file's first bytes, as stored (not gunzipped), are `magic`."""
    with open(path, "rb") as stream:
        return stream.read(len(magic)) == magic


def is_gzip(path: str) -> bool:
    return starts_with(path, _GZIP_MAGIC)


def _open_binary(path: str) -> BinaryIO:
    """The file's bytes, gunzipped when its magic bytes say gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def numbered_lines(path: str) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of every line, gunzipping by magic bytes; decoding per line so that
    a bad byte or a truncated gzip is reported at its own line."""
    number = 0
    try:
        with _open_binary(path) as stream:
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


def head_text(path: str, size: int = 65536) -> str:
    """The first bytes of a file (gunzipped) as text, for format sniffing."""
    try:
        with _open_binary(path) as stream:
            head = stream.read(size)
    except (EOFError, zlib.error, OSError):
        return ""
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")
