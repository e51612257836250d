"""Model artifacts for tests: a tiny real skops file, a skops file with a type nobody trusts, and a
pickle whose loading would run a shell command. Built once per session."""

import builtins
import functools
import os

import numpy as np
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer


@functools.cache
def skops_artifact(variant: int = 0) -> bytes:
    """A fitted LogisticRegression saved with skops: what a well-behaved pipeline uploads. Each
    variant is a differently regularised model, so its bytes (and sha256) differ."""
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    return skops.io.dumps(LogisticRegression(C=1.0 + variant).fit(features, [0, 1, 0, 1]))


@functools.cache
def skops_with_eval() -> bytes:
    """A skops file whose transformer calls builtins.eval."""
    return skops.io.dumps(FunctionTransformer(func=builtins.eval))


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/keel-pwned",))


@functools.cache
def malicious_pickle() -> bytes:
    """A pickle that runs a shell command when loaded (never loaded by these tests)."""
    import pickle

    return pickle.dumps(_Payload())
