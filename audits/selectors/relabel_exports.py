"""The corrected labels of a campaign as a file, written as it is read so a big campaign streams:
CSV and JSON lines row by row, Parquet in row groups (spooled to a temporary file, since a Parquet
footer is written last)."""

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from itertools import islice

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.serializers.json import DjangoJSONEncoder

from ..models import RelabelCampaign
from .relabel_results import EXPORT_COLUMNS, campaign_label_rows

__all__ = ["LABEL_FORMATS", "campaign_labels_file"]

ROW_GROUP = 5000
READ_BLOCK = 1 << 20
LABEL_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson", "jsonl"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}
_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.int64()),
        ("campaign_name", pa.string()),
        ("prediction_id", pa.int64()),
        ("request_id", pa.string()),
        ("version", pa.int64()),
        ("predicted_at", pa.timestamp("us", tz="UTC")),
        ("predicted_label", pa.string()),
        ("score", pa.float64()),
        ("corrected_label", pa.string()),
        ("source", pa.string()),
        ("labellers", pa.string()),
        ("answers", pa.string()),
        ("agreement", pa.float64()),
        ("adjudicated_by", pa.string()),
        ("relabelled", pa.bool_()),
    ]
)


def _csv(rows: Iterator[dict]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "predicted_at": row["predicted_at"].isoformat()})
        if buffer.tell() > READ_BLOCK // 4:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _jsonl(rows: Iterator[dict]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, cls=DjangoJSONEncoder) + "\n").encode()


def _parquet(rows: Iterator[dict]) -> Iterator[bytes]:
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        with pq.ParquetWriter(spool, _SCHEMA) as writer:
            wrote = False
            while batch := list(islice(rows, ROW_GROUP)):
                writer.write_table(pa.Table.from_pylist(batch, schema=_SCHEMA))
                wrote = True
            if not wrote:
                writer.write_table(_SCHEMA.empty_table())
        spool.seek(0)
        while block := spool.read(READ_BLOCK):
            yield block


def campaign_labels_file(campaign: RelabelCampaign, fmt: str) -> tuple[Iterator[bytes], str, str]:
    """(the file's bytes in blocks, its content type, its file name) for `fmt` (csv, jsonl, parquet)."""
    content_type, extension = LABEL_FORMATS[fmt]
    writer = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet}[fmt]
    return writer(campaign_label_rows(campaign)), content_type, f"campaign-{campaign.pk}-labels.{extension}"
