"""`paperlens export`: every live paper of an index with its metadata and its vectors in one Parquet
file, so that an index built on a cluster or a GPU box moves to a laptop, or to another tool
(pandas, DuckDB, LanceDB, Qdrant), and back: `paperlens index` reads the file's `embedding` and
`title_embedding` columns as given vectors (indexer.vectors).

Owns the export's layout: the contract's columns (`authors` and `categories` as lists of strings,
`extra` as a JSON object in a string), `embedding` and `title_embedding` as fixed-size lists of
float32 (or float16, half the size, for shipping), and the file's metadata under the key
`paperlens` (model, dimension, dtype, papers, the encoder's runtime and numerics). The file is
written beside its final name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.errors import PaperlensError
from indexer.live import load_live
from indexer.vectors import EMBEDDING_COLUMN, METADATA_KEY, TITLE_EMBEDDING_COLUMN

DTYPES = ("float32", "float16")
BATCH_ROWS = 8192
EXPORT_FORMAT_VERSION = 1


@dataclass
class ExportSummary:
    path: str
    papers: int
    dim: int
    dtype: str
    size_bytes: int
    seconds: float

    def line(self) -> str:
        return (f"exported {self.papers} papers with their {self.dim}-dimensional {self.dtype} vectors to {self.path} "
                f"({self.size_bytes / 1e6:.1f} MB) in {self.seconds:.1f}s")


def export_index(index_dir: Path | str, out: Path | str, dtype: str = "float32") -> ExportSummary:
    """Writes the live papers (the journal's changes applied), in row order, to `out`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    if dtype not in DTYPES:
        raise PaperlensError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise PaperlensError(f"{out}: the export is a Parquet file; name it .parquet")
    if not out.parent.is_dir():
        raise PaperlensError(f"{out.parent}: no such folder")
    index, _ = load_live(index_dir)
    manifest = index.manifest
    rows = np.array(sorted(index.live_ids().values()), dtype=np.int64)
    value_type = pa.float16() if dtype == "float16" else pa.float32()
    metadata = {"format_version": EXPORT_FORMAT_VERSION, "model": manifest.model, "dim": manifest.dim,
                "dtype": dtype, "papers": int(len(rows)), "encoder": manifest.encoder,
                "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    schema = pa.schema([
        ("id", pa.string()), ("title", pa.string()), ("abstract", pa.string()),
        ("authors", pa.list_(pa.string())), ("categories", pa.list_(pa.string())),
        ("published", pa.string()), ("url", pa.string()), ("extra", pa.string()),
        (EMBEDDING_COLUMN, pa.list_(value_type, manifest.dim)),
        (TITLE_EMBEDDING_COLUMN, pa.list_(value_type, manifest.dim)),
    ], metadata={METADATA_KEY: json.dumps(metadata)})
    staged = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with pq.ParquetWriter(staged, schema, compression="zstd") as writer:
            for start in range(0, len(rows), BATCH_ROWS):
                writer.write_table(_batch(index, rows[start:start + BATCH_ROWS], schema, np.dtype(dtype)))
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)
    return ExportSummary(str(out), int(len(rows)), manifest.dim, dtype, out.stat().st_size,
                         time.perf_counter() - started)


def _batch(index, rows: np.ndarray, schema, dtype: np.dtype):
    import pyarrow as pa

    papers = [index.papers[row] for row in rows]
    columns = {
        "id": [p.id for p in papers], "title": [p.title for p in papers], "abstract": [p.abstract for p in papers],
        "authors": [p.authors for p in papers], "categories": [p.categories for p in papers],
        "published": [p.published for p in papers], "url": [p.url for p in papers],
        "extra": [json.dumps(p.extra, ensure_ascii=False) if p.extra else None for p in papers],
    }
    arrays = [pa.array(columns[field.name], type=field.type) for field in schema if field.name in columns]
    dim = index.manifest.dim
    for vectors in (index.vectors, index.title_vectors):
        values = np.asarray(vectors[rows], dtype=dtype).reshape(-1)
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(values), dim))
    return pa.Table.from_arrays(arrays, schema=schema)
