"""What the scorer process may do once it holds an artifact: an audit hook (PEP 578) and rlimits.

Installed after the libraries and the named operation modules are imported and BEFORE the artifact's
bytes are touched. From then on the process cannot open a socket, start or signal a process, load a
library through ctypes, change the file system, or open any file for writing or outside the
read-only code roots (the interpreter's prefixes and the project's packages), so a pickle's payload
cannot read /proc/<parent>/environ, the database file, media/ or .env. An audit hook cannot be
removed once added.
"""

from __future__ import annotations

import math
import os
import resource
import signal
import sys

__all__ = ["ScorerRefused", "install_audit_hook", "set_limits"]

BLOCKED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.kill",
    "os.killpg",
    "os.system",
    "os.startfile",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.chflags",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.putenv",
    "os.unsetenv",
    "os.setxattr",
    "os.removexattr",
    "shutil.",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.call_function",
    "ctypes.set_errno",
    "pty.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "imaplib.",
    "poplib.",
    "nntplib.",
    "telnetlib.",
    "sqlite3.",
    "_posixsubprocess.",
    "resource.setrlimit",
    "resource.prlimit",
)
# Whatever the flags say, these modes write.
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class ScorerRefused(PermissionError):
    """Something the artifact's code tried that the scorer does not allow."""


def _is_write(mode, flags) -> bool:
    if isinstance(mode, str) and any(letter in mode for letter in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


def install_audit_hook(roots: list[str]) -> None:
    """Refuse the events above, and any open() that writes or reads outside ``roots``."""
    allowed = tuple(os.path.join(os.path.realpath(root), "") for root in roots)
    realpath = os.path.realpath

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            if _is_write(mode, flags):
                raise ScorerRefused(f"the scorer does not allow writing files ({path!r})")
            if not isinstance(path, (str, bytes)):
                raise ScorerRefused(f"the scorer does not allow opening {path!r}")
            name = realpath(os.fsdecode(path))
            if not name.startswith(allowed):
                raise ScorerRefused(f"the scorer does not allow reading {name!r}")
        elif event.startswith(BLOCKED_PREFIXES):
            raise ScorerRefused(f"the scorer does not allow {event}")

    sys.addaudithook(hook)


def set_limits(*, memory_bytes: int, cpu_seconds: int) -> None:
    """The process's own rlimits: its address space, `cpu_seconds` of CPU from now on (what starting
    took is not counted; SIGXCPU at the limit, SIGKILL a little after), no file writes (SIGXFSZ
    ignored so a write fails instead), no core dumps, few descriptors."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime) + int(cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
