"""A version's page lists the files its training run logged (through the MLflow artifact proxy) with
their size and sha256, so a reviewer sees what the run left behind."""

import hashlib

from django.urls import reverse

from registry import services
from tests.factories import ModelVersionFactory, TrainingRunFactory


def test_the_version_page_lists_its_runs_artifacts(reviewer, pipeline, client_as, media):
    version = ModelVersionFactory(run=TrainingRunFactory())
    body = b"flavors: {}\n"
    chunks = iter([body, b""])
    services.run_artifact_store(
        owner=version.run, path="model/MLmodel", read=lambda n: next(chunks), length=len(body), actor=pipeline
    )
    url = reverse("registry:version-detail", args=[version.model.name, version.version])
    html = client_as(reviewer).get(url).content.decode()
    assert "<code>model/MLmodel</code>" in html
    assert hashlib.sha256(body).hexdigest() in html and ">12<" in html
