"""What each relabelling design reads from the database: the population's rows as DataFrame chunks
for the pure engine (audits.engine.relabel.draw), streamed so memory stays flat, and the checks a
design's source must pass when a campaign is created (named by field, for a 400).

* uniform, stratified, uncertainty: the campaign's logged predictions (id, score, label).
* disagreement: the campaign's versions (production, by default the production alias) paired by
  request_id with the `against` versions' decisions on the same request (by default the shadow and
  canary aliases); `other_label` is a differing decision of any of them, so agreeing requests and
  requests no other version scored are never drawn. Rows without a decision (score only) are left
  out: there is nothing to disagree with.
* audit_flagged: see `audit_flags`.
* label_errors: the campaign's logged predictions whose request_id appears in a labelled batch (a
  data file with `request_id` and the label that arrived later, e.g. the outcome 90 days on), with
  the logged score as the probability of the design's `positive` class: the production model's
  scores on requests it never trained on are the out-of-sample probabilities confident learning
  needs. The log holds one score per prediction, so this design is for binary models.
"""

import math

import numpy as np
import pandas as pd
from django.db.models import OuterRef, Subquery

from mlops.datafiles.reading import DataFileError, iter_chunks, read_columns
from mlops.datafiles.storage import NoDataFile
from mlops.errors import ApplicationError
from registry import selectors as registry_selectors

from ..models import AuditJob, AuditState, DataBatch, FindingStatus, PredictionLog, RelabelCampaign
from ..selectors.references import batch_path

__all__ = ["FLAGGING_CHECKS", "audit_flags", "design_sources", "population_chunks"]

DRAW_CHUNK = 20_000
# Findings that name rows: a column and the values (or the absence of one) that tripped the check.
FLAGGING_CHECKS = ("new_categories", "range", "nulls")
REQUEST_ID = "request_id"
MAX_BATCH_ROWS = 2_000_000


def _refuse(field: str, message: str):
    raise ApplicationError(f"The campaign cannot be created: {message}", detail={field: [message]})


# --- checks at creation --------------------------------------------------------------------------


def design_sources(*, model, design: dict, versions: list) -> tuple[dict, list]:
    """The design with its sources resolved and checked (the disagreement design's `against`
    versions from the registry's shadow and canary aliases when not named), and the versions to
    sample (the disagreement design's default: the production alias)."""
    kind = design.get("kind")
    if kind == "disagreement":
        return _disagreement(model, design, versions)
    if kind == "audit_flagged":
        job = AuditJob.objects.filter(pk=design["audit"], model=model).first()
        if job is None:
            _refuse("design", f"audit: '{model.name}' has no audit {design['audit']}.")
        if job.state != AuditState.SUCCEEDED:
            _refuse("design", f"audit: audit {job.pk} has not succeeded ({job.state}): it flags no rows yet.")
        if not _flagging_findings(job):
            _refuse(
                "design",
                f"audit: audit {job.pk} has no warning or failure that names rows "
                f"(only {', '.join(FLAGGING_CHECKS)} findings do).",
            )
    if kind == "label_errors":
        batch = DataBatch.objects.filter(pk=design["batch"], model=model).first()
        if batch is None:
            _refuse("design", f"batch: '{model.name}' has no batch {design['batch']}.")
        column = design.get("label_column") or "label"
        try:
            columns = read_columns(batch_path(batch), batch.format)
        except (DataFileError, NoDataFile, OSError, ApplicationError) as exc:
            _refuse("design", f"batch: batch {batch.pk} cannot be read: {exc}")
        for needed, field in ((REQUEST_ID, "batch"), (column, "label_column")):
            if needed not in columns:
                _refuse("design", f"{field}: batch {batch.pk} has no column {needed!r}.")
    return design, versions


def _disagreement(model, design: dict, versions: list) -> tuple[dict, list]:
    aliases = registry_selectors.alias_map(model)
    if not versions:
        production = aliases.get("production")
        if production is None:
            _refuse("versions", "name the version whose decisions are compared (the model has no production alias).")
        versions = [production]
    against = design.get("against")
    if against is None:
        found = sorted({aliases[name].version for name in ("shadow", "canary") if name in aliases})
        against = [number for number in found if number not in {v.version for v in versions}]
        if not against:
            _refuse("design", "against: the model has no shadow or canary version to compare with; name them.")
    known = set(model.versions.values_list("version", flat=True))
    unknown = [number for number in against if number not in known]
    if unknown:
        _refuse("design", f"against: '{model.name}' has no version {unknown[0]}.")
    if set(against) & {v.version for v in versions}:
        _refuse("design", "against: a version cannot be compared with itself; name other versions than `versions`.")
    return {**design, "against": sorted(against)}, versions


# --- the population ------------------------------------------------------------------------------


def population_chunks(campaign: RelabelCampaign, rows):
    """The population `rows` (the campaign's predictions, erased people left out) as the chunks the
    campaign's design reads."""
    kind = campaign.design.get("kind")
    if kind == "disagreement":
        return _stream(_paired(campaign, rows), ["id", "score", "label", "other_label"])
    if kind == "audit_flagged":
        flags = audit_flags(AuditJob.objects.get(pk=campaign.design["audit"]))
        return _flagged(rows, flags)
    if kind == "label_errors":
        return _labelled(campaign, rows)
    return _stream(rows.values_list("pk", "score", "label"), ["id", "score", "label"])


def _stream(values, columns):
    buffer = []
    for row in values.order_by("pk").iterator(chunk_size=DRAW_CHUNK):
        buffer.append(row)
        if len(buffer) >= DRAW_CHUNK:
            yield _frame(buffer, columns)
            buffer = []
    if buffer:
        yield _frame(buffer, columns)


def _frame(rows, columns) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    frame["score"] = frame["score"].astype(float)
    return frame


def _paired(campaign: RelabelCampaign, rows):
    """Each production decision with a differing decision of an `against` version on the same request
    (the unique (model, version, request_id) makes the lookup an index probe)."""
    other = (
        PredictionLog.objects.filter(
            model_id=campaign.model_id,
            version__version__in=campaign.design["against"],
            request_id=OuterRef("request_id"),
            erased_at__isnull=True,
        )
        .exclude(label="")
        .exclude(label=OuterRef("label"))
        .order_by("version__version")
        .values("label")[:1]
    )
    return (
        rows.exclude(label="").annotate(other_label=Subquery(other)).values_list("pk", "score", "label", "other_label")
    )


# --- rows an audit flagged -----------------------------------------------------------------------


def _flagging_findings(job: AuditJob):
    return list(
        job.findings.filter(
            check_name__in=FLAGGING_CHECKS, status__in=[FindingStatus.WARN, FindingStatus.FAIL]
        ).exclude(column="")
    )


def audit_flags(job: AuditJob) -> list[tuple[str, str, object]]:
    """The row-level tests an audit's findings support, as (flag, column, test). Findings carry a
    column and what tripped it, not row ids (an audit profiles a batch; it keeps no rows), so the
    design draws the logged predictions whose features show the same problem:

    * new_categories: the column's value is one of the values never seen in training that the
      finding lists (details.new_categories);
    * range: the column's value lies outside the reference's p01–p99 (details.reference_p01/p99,
      else the training min/max): where a shifted median or spread shows row by row;
    * nulls: the column's value is missing (null or absent).

    Drift, skew, volume and schema findings describe the batch as a whole and name no rows; they
    flag nothing. Only warnings and failures flag rows."""
    flags = []
    for finding in _flagging_findings(job):
        column, details = finding.column, finding.details or {}
        flag = f"{finding.check_name}:{column}"
        if finding.check_name == "new_categories":
            values = {str(v) for v in details.get("new_categories") or []}
            if values:
                flags.append((flag, column, lambda v, values=values: v is not None and str(v) in values))
        elif finding.check_name == "range":
            low = _number(details.get("reference_p01"), details.get("reference_min"))
            high = _number(details.get("reference_p99"), details.get("reference_max"))
            if low is not None or high is not None:
                flags.append((flag, column, lambda v, lo=low, hi=high: _outside(v, lo, hi)))
        else:
            flags.append((flag, column, lambda v: v is None or (isinstance(v, float) and math.isnan(v))))
    return flags


def _number(*candidates):
    for value in candidates:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _outside(value, low, high) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    if math.isnan(number):
        return False
    return (low is not None and number < low) or (high is not None and number > high)


def _flag(features, flags) -> str | None:
    features = features or {}
    for flag, column, test in flags:
        if test(features.get(column)):
            return flag
    return None


def _flagged(rows, flags):
    values = rows.values_list("pk", "score", "label", "features")
    for chunk in _stream(values, ["id", "score", "label", "features"]):
        chunk["flag"] = pd.Series([_flag(f, flags) for f in chunk.pop("features")], dtype=object, index=chunk.index)
        yield chunk


# --- suspected label errors ----------------------------------------------------------------------


def _labelled(campaign: RelabelCampaign, rows):
    """Logged predictions with the label the batch gives their request (the whole label map is held:
    it is the batch, bounded by the upload limit; the log itself is streamed)."""
    batch = DataBatch.objects.get(pk=campaign.design["batch"])
    column = campaign.design.get("label_column") or "label"
    given: dict[str, str] = {}
    path = batch_path(batch)
    for chunk in iter_chunks(path, batch.format, columns=[REQUEST_ID, column], dtypes={REQUEST_ID: object}):
        chunk = chunk.dropna(subset=[REQUEST_ID, column])
        given.update(zip(chunk[REQUEST_ID].astype(str), chunk[column].astype(str)))
        if len(given) > MAX_BATCH_ROWS:
            raise ValueError(f"batch: more than {MAX_BATCH_ROWS} labelled rows; split the batch")
    values = rows.exclude(score__isnull=True).values_list("pk", "score", "label", "request_id")
    for chunk in _stream(values, ["id", "score", "label", "request_id"]):
        chunk["given_label"] = np.array([given.get(r) for r in chunk.pop("request_id")], dtype=object)
        yield chunk[chunk["given_label"].notna()]
