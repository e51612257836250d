"""The audits factories make rows the models accept as they are."""

import pytest

from tests.audits.factories import (
    AlertFactory,
    AuditJobFactory,
    AuditSuiteFactory,
    DataBatchFactory,
    FindingFactory,
    PredictionLogFactory,
    ReferenceProfileFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [
        DataBatchFactory,
        ReferenceProfileFactory,
        AuditJobFactory,
        FindingFactory,
        AlertFactory,
        AuditSuiteFactory,
        PredictionLogFactory,
    ],
)
def test_each_factory_makes_a_valid_row(factory):
    row = factory()
    row.full_clean()


def test_an_audit_and_its_batch_belong_to_one_model():
    job = AuditJobFactory()
    assert job.batch.model == job.version.model == job.model
    assert FindingFactory(job=job, status="warn").severity == "warning"
    reference = ReferenceProfileFactory()
    assert reference.batch.model == reference.version.model and reference.batch.purpose == "training"
