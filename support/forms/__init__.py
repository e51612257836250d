"""Forms of support's pages: the lists' and "Explain a decision"."""

from .entries import (
    DATETIME_FORMAT,
    BlacklistForm,
    BoostForm,
    BulkConfirmForm,
    BulkRowFilterForm,
    BulkUploadForm,
    LiftForm,
    PrivacyRequestForm,
    SearchForm,
)
from .explanations import FEATURE_PREFIX, ChooseModelForm, ExplainForm

__all__ = [
    "DATETIME_FORMAT",
    "FEATURE_PREFIX",
    "BlacklistForm",
    "BoostForm",
    "BulkConfirmForm",
    "BulkRowFilterForm",
    "BulkUploadForm",
    "ChooseModelForm",
    "ExplainForm",
    "LiftForm",
    "PrivacyRequestForm",
    "SearchForm",
]
