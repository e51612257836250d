"""The API schema tells the truth: schemathesis (every check) against a real server on the seeded
demo, as the upsell pipeline (token) and as a reviewer, finds nothing.

Bounded for CI: a fixed number of examples per operation and deterministic generation, so a run
repeats the previous one; every phase (examples, coverage, fuzzing, stateful) runs for both actors.
On a failure the test prints schemathesis' report, with a curl line per failing request."""

import io
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.servers import basehttp
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from demo.stories import soom

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = 3
# Operations schemathesis does not call, each with the reason. Empty: every operation is fuzzed.
EXCLUDED_OPERATIONS: dict[str, str] = {}
# Operations whose schema-valid requests may still be refused (400) for what OpenAPI cannot say: the
# positive_data_acceptance check is off for them only, every other check runs. Each with the reason.
DATA_DEPENDENT_BODIES: dict[str, str] = {
    "POST /api/v1/models/{name}/versions/{version}/artifact": "the bytes must hash to the sha256 sent with them",
    "POST /api/v1/models/{name}/versions/{version}/reference": "the file must be a readable table with the "
    "version's feature columns",
    "POST /api/v1/models/{name}/holdouts/": "the file must be a readable table holding the label column",
    "POST /api/v1/predictions/": "each record must name an existing version of the model, a request_id not "
    "repeated for the same version in the batch (JSON Schema cannot say a field is unique across items) "
    "and a time not in the future",
    "POST /api/v1/support/explanations": "the features must be the production version's features",
    "PUT /api/v1/models/{name}/versions/{version}/explainer-background": "the rows must hold the version's features",
    "PATCH /api/v1/models/{name}/audit-schedules/{schedule_name}": "an edit is checked against the saved schedule "
    "(a file schedule needs its path, a version must exist) and needs a reason unless it only pauses or resumes",
    "POST /api/v1/relabel/items/{id}/adjudicate": "the label must be one of the item's campaign's labels, and "
    "the item's answers all in",
    "POST /api/v1/relabel/campaigns/{id}/gold": "each prediction must be a logged prediction of the campaign's "
    "model that is not an item of it yet",
    "POST /api/v1/relabel/campaigns/": "a segment's columns must be features the model logged, and its "
    "versions, audit or batch must exist",
    "POST /api/v1/relabel/schedules/": "the template must make a campaign: which design fields apply depends on "
    "the design's kind, and its versions, audit or batch must exist",
    "PATCH /api/v1/relabel/schedules/{id}": "an edit is checked as at creation against the saved schedule and "
    "needs a reason unless it only pauses or resumes",
}
TIME_LIMIT = 240


def _schema_operations() -> set[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _config(path: Path) -> Path:
    # Every check, from the file: a --checks option would override the per-operation settings.
    lines = ["[checks]", "enabled = true", ""]
    for operation in DATA_DEPENDENT_BODIES:
        method, route = operation.split(" ", 1)
        lines += [
            "[[operations]]",
            f'include-method = "{method}"',
            f'include-path = "{route}"',
            "checks.positive_data_acceptance.enabled = false",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


def _fuzz(base_url: str, token: str, report_dir: Path) -> tuple[int, str]:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    report_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(schemathesis) if schemathesis.exists() else "schemathesis",
        "--config-file",
        str(_config(report_dir / "schemathesis.toml")),
        "run",
        f"{base_url}/api/schema/?format=json",
        "--header",
        f"Authorization: Token {token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report-dir",
        str(report_dir),
    ]
    for operation in EXCLUDED_OPERATIONS:
        method, path = operation.split(" ", 1)
        command += ["--exclude-by", f'method == "{method}" and path == "{path}"']
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIME_LIMIT, stdin=subprocess.DEVNULL, cwd=report_dir
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def seeded_demo(integration_services, settings, tmp_path, monkeypatch):
    """The demo's story (models, versions, audits, promotions, lists), and a token for each actor.
    Told on fewer signups and shorter training than `./run demo` (the sizes tests/demo uses): every
    row kind and state is there for the fuzzer, in a fraction of the seeding time."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.KEEL_DATA_ROOT = tmp_path / "data"
    monkeypatch.setattr(soom, "SIGNUPS", 8_000)
    monkeypatch.setattr(soom, "HOLDOUT_SIGNUPS", 800)
    monkeypatch.setattr(soom, "BATCH_SIGNUPS", 1500)
    monkeypatch.setattr(
        soom, "RELEASES", [replace(r, hyperparameters={**r.hyperparameters, "max_iter": 40}) for r in soom.RELEASES]
    )
    call_command("seed_demo", stdout=io.StringIO())
    reviewer = get_user_model().objects.get(username="reviewer")
    pipeline = get_user_model().objects.get(username=soom.PIPELINE_USER)
    return {
        "pipeline": Token.objects.get(user=pipeline).key,
        "reviewer": Token.objects.get_or_create(user=reviewer)[0].key,
    }


@pytest.fixture
def quick_live_server(live_server, monkeypatch):
    """The live server answering without Nagle's delay: its handler writes headers and body
    separately, and each request would otherwise wait ~40 ms for the client's delayed ACK."""
    monkeypatch.setattr(basehttp.WSGIRequestHandler, "disable_nagle_algorithm", True)
    return live_server


def test_schemathesis_finds_nothing(seeded_demo, quick_live_server, tmp_path):
    # One seeded demo for both actors (seeding takes a while); the reviewer fuzzes what the
    # pipeline's run left behind as well.
    expected = _schema_operations() - set(EXCLUDED_OPERATIONS)
    failures = []
    for actor in ("pipeline", "reviewer"):
        began = time.monotonic()
        code, report = _fuzz(quick_live_server.url, seeded_demo[actor], tmp_path / actor)
        tested = re.search(r"Tested: (\d+)", report)
        assert tested and int(tested.group(1)) == len(expected), (
            f"schemathesis as the {actor} tested {tested and tested.group(1)} operations, the schema has "
            f"{len(expected)} (after the excluded ones):\n{report}"
        )
        if code != 0:
            failures.append(f"schemathesis as the {actor} found failures:\n{report}")
        print(f"schemathesis as the {actor}: {len(expected)} operations, {time.monotonic() - began:.0f} s")
    assert not failures, "\n\n".join(failures)
