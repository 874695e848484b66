"""Tabular sources: CSV with a header row and Parquet, both holding the contract's columns.

Owns `read_csv`, `read_parquet` and the content tests that recognise them (`looks_like_csv`,
`is_parquet`). CSV bad records name the line where the row starts; Parquet ones the row number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.files import numbered_lines, starts_with
from indexer.readers.records import paper_from_record

_PARQUET_MAGIC = b"PAR1"


def read_csv(path: str) -> Iterator[Paper]:
    lines = (line for _, line in numbered_lines(path))
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


def is_parquet(path: str) -> bool:
    return starts_with(path, _PARQUET_MAGIC)


def looks_like_csv(head: str) -> bool:
    """A header row naming at least the id and title columns."""
    first_line = head.lstrip().split("\n", 1)[0].lower()
    return {"id", "title"} <= {column.strip().strip('"') for column in first_line.split(",")}
