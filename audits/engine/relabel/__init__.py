"""Relabelling engine: seeded, streamed sampling designs (sampling), design-weighted error estimates
with calibrated intervals (estimates), agreement between labellers (agreement). Pure numpy/pandas/scipy
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

__all__ = [
    "DESIGN_KINDS",
    "NO_SCORE",
    "STRATA",
    "Design",
    "DesignError",
    "Estimate",
    "Sample",
    "accuracy",
    "band_names",
    "cohen_kappa",
    "design_from_dict",
    "design_to_dict",
    "draw",
    "error_rate",
    "fleiss_kappa",
    "krippendorff_alpha",
    "per_class",
    "wilson",
]
