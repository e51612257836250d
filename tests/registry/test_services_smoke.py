import pytest

from registry import services
from tests.factories import RegisteredModelFactory


@pytest.mark.django_db
def test_versions_number_themselves_per_model(pipeline):
    model = RegisteredModelFactory()
    first = services.version_create(model=model, actor=pipeline, decision_threshold=0.4)
    second = services.version_create(model=model, actor=pipeline)
    assert (first.version, second.version) == (1, 2)
