"""The isolated scorer: model artifacts are code, so they are loaded and run only in a child process
with a cleared environment, rlimits, an audit hook and (where the machine allows) no network,
never in the web or worker process. Pure: no Django.

- ``open_model(raw, fmt, trusted_types, limits, what)``: a ``Scorer`` (``describe()``,
  ``scores(frame, task_type)``, ``predict_fn(task_type)``, ``call("pkg.module:function", **json)``);
- ``WarmPool``: warm scorers per artifact sha256 (the explainer's);
- ``Limits`` and ``SandboxError`` (its ``reason`` names the subject and the limit).
"""

from .limits import Limits, SandboxError, human_bytes
from .pool import WarmPool
from .runner import Scorer, network_isolation, open_model

__all__ = ["Limits", "SandboxError", "Scorer", "WarmPool", "human_bytes", "network_isolation", "open_model"]
