"""Bulk uploads: a CSV of IDs previewed row by row (new, duplicate, invalid, already active), then
confirmed once, all or nothing."""

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mlops.errors import ApplicationError, Conflict, NotFound

from ..models import BulkUpload, EntryKind, RowStatus
from .changes import after_change, begin_change, rate_check
from .checks import (
    active_by_entity,
    check_boost,
    check_expiry,
    check_reason,
    entity_problem,
    find_clash,
    resolve_scope,
)
from .entries import create_entries

__all__ = ["bulk_confirm", "bulk_needs_count", "bulk_preview"]


@dataclass
class _Row:
    line: int
    entity_type: str
    entity_id: str
    problem: str = ""


def _read_upload(file, limit: int) -> bytes:
    if isinstance(file, bytes | bytearray):
        data = bytes(file)
    else:
        size = getattr(file, "size", None)
        if size is not None and size > limit:
            raise ApplicationError(
                f"The file is {size} bytes; the limit is {limit} bytes.", field="file", status_code=413
            )
        if hasattr(file, "seek"):
            file.seek(0)
        data = file.read(limit + 1)
        if isinstance(data, str):
            data = data.encode()
    if len(data) > limit:
        raise ApplicationError(f"The file is over the limit of {limit} bytes.", field="file", status_code=413)
    return data


def _parse_csv(data: bytes, default_type: str) -> list[_Row]:
    """One ID per line, or a header naming `entity_id` (and optionally `entity_type`) columns."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError(
            f"The file is not UTF-8 text (first bad byte at offset {exc.start}).", field="file"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    columns: dict[str, int] | None = None
    limit = settings.KEEL_SUPPORT_BULK_MAX_ROWS
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if columns is None and not rows and "entity_id" in [c.lower() for c in cells]:
                names = [c.lower() for c in cells]
                unknown = sorted(set(names) - {"entity_id", "entity_type"})
                if unknown:
                    raise ApplicationError(
                        f"Unknown columns: {', '.join(unknown)}. A bulk file has entity_id and optionally entity_type.",
                        field="file",
                    )
                columns = {name: names.index(name) for name in ("entity_id", "entity_type") if name in names}
                continue
            if len(rows) >= limit:
                raise ApplicationError(f"The file has more than {limit} rows; split it.", field="file", status_code=413)
            line = reader.line_num
            if columns is None:
                if len(cells) != 1:
                    rows.append(
                        _Row(
                            line,
                            default_type,
                            ",".join(cells),
                            "One ID per line, or a header row naming entity_id and entity_type.",
                        )
                    )
                    continue
                rows.append(_Row(line, default_type, cells[0]))
                continue
            if len(cells) != len(columns):
                rows.append(
                    _Row(line, default_type, ",".join(cells), f"Expected {len(columns)} columns, found {len(cells)}.")
                )
                continue
            entity_type = cells[columns["entity_type"]] if "entity_type" in columns else default_type
            rows.append(_Row(line, entity_type or default_type, cells[columns["entity_id"]]))
    except csv.Error as exc:
        raise ApplicationError(
            f"The file is not a readable CSV (line {reader.line_num}: {exc}).", field="file"
        ) from None
    if not rows:
        raise ApplicationError("The file has no IDs.", field="file")
    return rows


def _classify(rows: list[_Row], *, kind: str, scope_key: str, now: datetime) -> list[dict]:
    """Each row's status: new, duplicate (of an earlier line), invalid (with why), already active."""
    for row in rows:
        if not row.problem:
            problem = entity_problem(row.entity_type, row.entity_id)
            row.problem = problem[1] if problem else ""
    active = active_by_entity([(r.entity_type, r.entity_id) for r in rows if not r.problem], now)
    first_line: dict[tuple[str, str], int] = {}
    out = []
    for row in rows:
        key = (row.entity_type, row.entity_id)
        result = {
            "line": row.line,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "status": RowStatus.NEW.value,
            "message": "",
            "existing_entry": None,
        }
        if row.problem:
            result.update(status=RowStatus.INVALID.value, message=row.problem)
        elif key in first_line:
            result.update(status=RowStatus.DUPLICATE.value, message=f"Same ID as line {first_line[key]}.")
        else:
            first_line[key] = row.line
            clash = find_clash(kind, row.entity_type, row.entity_id, scope_key, active.get(key, []))
            if clash is not None:
                result.update(status=clash.status.value, message=clash.message, existing_entry=clash.entry.pk)
        out.append(result)
    return out


@transaction.atomic
def bulk_preview(
    *,
    actor,
    kind: str,
    file,
    entity_type: str,
    reason: str,
    filename: str = "",
    note: str = "",
    all_surfaces: bool = False,
    surfaces: Sequence[str] = (),
    weight: float | None = None,
    expires_at: datetime | None = None,
) -> BulkUpload:
    """Read a CSV of IDs and record what confirming it would do, row by row. Writes no entry."""
    now = timezone.now()
    if kind not in EntryKind.values:
        raise ApplicationError("Say what to do: blacklist or boost.", field="kind")
    entity_type = (entity_type or "").strip()
    if entity_type not in settings.KEEL_SUPPORT_ENTITY_TYPES:
        raise ApplicationError(
            f"Unknown entity type '{entity_type}'; this deployment has: "
            f"{', '.join(settings.KEEL_SUPPORT_ENTITY_TYPES)}.",
            field="entity_type",
        )
    note = (note or "").strip()
    check_reason(kind, reason, note)
    if kind == EntryKind.BOOST:
        check_boost(weight, expires_at, now)
    else:
        weight = None
        check_expiry(expires_at, now)
    scope = resolve_scope(all_surfaces=all_surfaces, surfaces=surfaces)
    data = _read_upload(file, settings.KEEL_SUPPORT_BULK_MAX_BYTES)
    rows = _classify(_parse_csv(data, entity_type), kind=kind, scope_key=scope.key, now=now)
    counts = dict.fromkeys(RowStatus.values, 0)
    for row in rows:
        counts[row["status"]] += 1
    return BulkUpload.objects.create(
        kind=kind,
        reason=reason,
        note=note,
        all_surfaces=scope.all_surfaces,
        surface_names=[s.name for s in scope.surfaces],
        weight=weight,
        expires_at=expires_at,
        default_entity_type=entity_type,
        filename=(filename or getattr(file, "name", "") or "")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        rows=rows,
        counts=counts,
        created_by=actor,
        created_at=now,
        preview_expires_at=now + timedelta(seconds=settings.KEEL_SUPPORT_BULK_PREVIEW_SECONDS),
    )


def bulk_needs_count(bulk: BulkUpload) -> bool:
    """Whether confirming must repeat the number of IDs (a blacklist over the threshold)."""
    return bulk.kind == EntryKind.BLACKLIST and bulk.new_count > settings.KEEL_SUPPORT_BULK_CONFIRM_THRESHOLD


@transaction.atomic
def bulk_confirm(*, bulk: BulkUpload | int, actor, confirm_count: int | None = None) -> BulkUpload:
    """Apply exactly the previewed `new` rows, all or nothing, once. Confirming an applied upload
    again (a double-click, a retried request) changes nothing and returns it with
    `already_applied=True`. Refused if any row is invalid, the preview expired, the count was not
    typed for a large blacklist, or the lists changed since the preview so a new row no longer is."""
    now = timezone.now()
    pk = bulk.pk if isinstance(bulk, BulkUpload) else int(bulk)
    seq = begin_change()  # a second click waits here until the first one has committed
    found = BulkUpload.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no bulk upload #{pk}.")
    if found.created_by_id != actor.pk:
        raise ApplicationError("Only the agent who uploaded a file may confirm it.", status_code=403)
    if found.applied_at is not None:
        found.already_applied = True
        return found
    if now >= found.preview_expires_at:
        raise Conflict(f"This preview expired at {found.preview_expires_at:%Y-%m-%d %H:%M}; upload the file again.")
    if found.invalid_count:
        bad = [row for row in found.rows if row["status"] == RowStatus.INVALID]
        shown = "; ".join(f"line {row['line']}: {row['message']}" for row in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ApplicationError(
            f"{len(bad)} rows are invalid ({shown}{more}). Nothing was written: fix the file and upload it again.",
            field="file",
        )
    new_rows = [row for row in found.rows if row["status"] == RowStatus.NEW]
    if not new_rows:
        raise ApplicationError("Nothing to apply: every row is a duplicate or already active.", field="file")
    if bulk_needs_count(found) and confirm_count != len(new_rows):
        raise ApplicationError(
            f"This blacklists {len(new_rows)} IDs. To confirm, type the number: confirm_count={len(new_rows)}.",
            field="confirm_count",
        )
    rate_check(actor, now)
    if found.expires_at is not None and found.expires_at <= now:
        raise Conflict("The expiry chosen for this upload has passed; upload the file again.", field="expires_at")
    scope = resolve_scope(all_surfaces=found.all_surfaces, surfaces=found.surface_names)
    # The lists may have changed since the preview: the same rows must still be new, or nothing is written.
    again = _classify(
        [_Row(r["line"], r["entity_type"], r["entity_id"]) for r in new_rows],
        kind=found.kind,
        scope_key=scope.key,
        now=now,
    )
    changed = [row for row in again if row["status"] != RowStatus.NEW]
    if changed:
        shown = "; ".join(f"line {row['line']}: {row['message']}" for row in changed[:3])
        raise Conflict(
            f"The lists changed since the preview ({shown}). Nothing was written: preview the file again.", field="file"
        )
    made = create_entries(
        kind=found.kind,
        keys=[(r["entity_type"], r["entity_id"]) for r in new_rows],
        reason=found.reason,
        note=found.note,
        scope=scope,
        weight=found.weight,
        expires_at=found.expires_at,
        actor=actor,
        now=now,
        seq=seq,
        bulk=found,
    )
    marked = BulkUpload.objects.filter(pk=pk, applied_at__isnull=True).update(
        applied_at=now, applied_by=actor, applied_count=len(made)
    )
    if marked != 1:
        raise Conflict("This upload was applied meanwhile.")  # rolls back: it is applied once
    after_change(actor, now)
    found.refresh_from_db()
    found.already_applied = False
    return found
