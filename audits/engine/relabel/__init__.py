"""Relabelling engine: seeded, streamed sampling designs (sampling), design-weighted error estimates
with calibrated intervals (estimates), agreement between labellers (agreement), a campaign's
agreement and each labeller's figures (team). Pure numpy/pandas/scipy
(and the `krippendorff` package); no Django."""

from .agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from .estimates import Estimate, accuracy, error_rate, per_class, wilson
from .sampling import (
    DESIGN_KINDS,
    NO_SCORE,
    STRATA,
    Design,
    DesignError,
    Sample,
    band_names,
    design_from_dict,
    design_to_dict,
    draw,
)
from .team import LabelledAnswer, agreement, labeller_figures, sure_answers

__all__ = [
    "DESIGN_KINDS",
    "NO_SCORE",
    "STRATA",
    "Design",
    "DesignError",
    "Estimate",
    "LabelledAnswer",
    "Sample",
    "accuracy",
    "agreement",
    "band_names",
    "cohen_kappa",
    "design_from_dict",
    "design_to_dict",
    "draw",
    "error_rate",
    "fleiss_kappa",
    "krippendorff_alpha",
    "labeller_figures",
    "per_class",
    "sure_answers",
    "wilson",
]
