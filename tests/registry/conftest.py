import pytest


@pytest.fixture
def pipeline_api(api_as, pipeline):
    """The nightly pipeline's API client (token auth)."""
    return api_as(pipeline)
