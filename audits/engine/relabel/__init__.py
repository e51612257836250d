"""Sampling for human relabelling, on DataFrames alone."""

from .sampling import Design, Sample, design_from_dict, design_to_dict, draw

__all__ = ["Design", "Sample", "design_from_dict", "design_to_dict", "draw"]
