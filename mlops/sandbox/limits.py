"""What a scorer may use (memory, CPU time, wall-clock time) and the reasons that name a limit."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "SandboxError", "human_bytes"]

GIB = 1024**3
MIB = 1024**2


def human_bytes(size: int) -> str:
    """2147483648 -> "2 GiB", 536870912 -> "512 MiB"."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (1024, "KiB")):
        if size >= unit:
            return f"{size / unit:.1f}".removesuffix(".0") + f" {name}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Limits:
    """Per scorer process: its address space, its CPU seconds in all, and each request's wall time."""

    memory_bytes: int = 2 * GIB
    cpu_seconds: int = 600
    wall_seconds: float = 300


class SandboxError(Exception):
    """The scorer could not answer: a limit, a crash, or an exception raised by the artifact's code.
    ``reason`` is the sentence a reviewer reads; ``kind`` is one of memory, wall, cpu, crash, error,
    protocol."""

    def __init__(self, reason: str, *, kind: str):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def reason_for(kind: str, *, what: str, doing: str, limits: Limits, detail: str = "") -> str:
    subject = f"{what}'s artifact"
    if kind == "memory":
        text = f"{subject} exceeded its {human_bytes(limits.memory_bytes)} memory limit while {doing}"
    elif kind == "wall":
        text = f"{subject} took longer than {limits.wall_seconds:g} s while {doing}"
    elif kind == "cpu":
        text = f"{subject} used more than {limits.cpu_seconds:g} s of CPU while {doing}"
    elif kind == "crash":
        text = f"{subject} crashed ({detail}) while {doing}"
    elif kind == "error":
        text = f"{subject} raised {detail}"
    else:
        text = f"the scorer of {subject} broke its protocol while {doing}: {detail}"
    text = text[:1].upper() + text[1:]
    return text if kind == "error" else text + "."
