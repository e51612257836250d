"""An artifact's format and the types or imports it would need, read from its bytes, never loaded."""

import builtins
import io
import os
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlops import modelformats
from tests.artifacts import malicious_pickle, skops_artifact, skops_with_eval


def test_a_skops_zip_is_skops_and_everything_else_is_pickle():
    assert modelformats.sniff(skops_artifact()) == "skops"
    assert modelformats.sniff(malicious_pickle()) == "pickle"
    assert modelformats.sniff(b"pickled-model-bytes") == "pickle"
    assert modelformats.sniff(b"PK\x03\x04 not really a zip") == "pickle"
    buffer = io.BytesIO()
    with __import__("zipfile").ZipFile(buffer, "w") as archive:
        archive.writestr("model.pkl", b"\x80\x04N.")
    assert modelformats.sniff(buffer.getvalue()) == "pickle"


def test_scikit_learn_numpy_and_scipy_classes_are_trusted():
    features = np.random.default_rng(0).random((40, 2))
    tree = skops.io.dumps(HistGradientBoostingClassifier(max_iter=3).fit(features, features[:, 0] > 0.5))
    assert modelformats.untrusted_types(tree) == []
    assert modelformats.trusted_types(tree) == ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
    assert modelformats.untrusted_types(skops_artifact()) == []
    assert modelformats.untrusted_types(skops.io.dumps(StandardScaler())) == []


def test_functions_outside_skops_defaults_are_untrusted_even_from_numpy():
    assert modelformats.untrusted_types(skops_with_eval()) == ["builtins.eval"]
    assert modelformats.untrusted_types(skops.io.dumps(FunctionTransformer(func=os.system))) == ["posix.system"]
    # numpy.load, numpy.ctypeslib.load_library are numpy functions too: a function needs naming.
    summed = skops.io.dumps(FunctionTransformer(func=np.sum))
    assert modelformats.untrusted_types(summed) == ["numpy.sum"]
    assert modelformats.untrusted_types(summed, extra_trusted=["numpy.sum"]) == []
    assert modelformats.trusted_types(summed, extra_trusted=["numpy.sum"]) == ["numpy.sum"]
    # A ufunc is one of skops' own defaults.
    assert modelformats.untrusted_types(skops.io.dumps(FunctionTransformer(func=np.log1p))) == []


class AcmeScaler(StandardScaler):
    pass


AcmeScaler.__module__ = "acme.features.scaling"


def test_the_deployers_transformers_are_trusted_by_exact_name_or_module_prefix():
    raw = skops.io.dumps(AcmeScaler())
    assert modelformats.untrusted_types(raw) == ["acme.features.scaling.AcmeScaler"]
    assert modelformats.untrusted_types(raw, extra_trusted=["acme.features.scaling.AcmeScaler"]) == []
    assert modelformats.untrusted_types(raw, extra_trusted=["acme.features"]) == []
    assert modelformats.untrusted_types(raw, extra_trusted=["acme.feat"]) == ["acme.features.scaling.AcmeScaler"]


def test_a_damaged_skops_file_is_an_error_not_a_pass():
    broken = io.BytesIO()
    with __import__("zipfile").ZipFile(broken, "w") as archive:
        archive.writestr("schema.json", "{not json")
    with pytest.raises(modelformats.ArtifactFormatError):
        modelformats.untrusted_types(broken.getvalue())


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickles_imports_are_read_without_loading_it(protocol, tmp_path):
    class Payload:
        def __reduce__(self):
            return (builtins.exec, ("open('pwned', 'w')",))

    raw = pickle.dumps(Payload(), protocol=protocol)
    assert modelformats.pickle_globals(raw) == ["builtins.exec"]
    assert modelformats.pickle_globals(malicious_pickle()) == ["posix.system"]
    assert "it would import posix.system" in modelformats.describe_pickle(malicious_pickle())


def test_joblib_files_name_their_imports_and_compressed_ones_are_not_guessed():
    buffer = io.BytesIO()
    joblib.dump(StandardScaler().fit([[0.0], [1.0]]), buffer)
    found = modelformats.pickle_globals(buffer.getvalue())
    assert found[0] == "sklearn.preprocessing._data.StandardScaler" and "numpy.ndarray" in found
    compressed = io.BytesIO()
    joblib.dump(StandardScaler(), compressed, compress=3)
    assert modelformats.pickle_globals(compressed.getvalue()) == ["compressed joblib"]
    assert "compressed joblib" in modelformats.describe_pickle(compressed.getvalue())


def test_the_list_of_imports_is_bounded():
    raw = pickle.dumps([getattr(os, name) for name in ("getcwd", "listdir", "getpid", "getppid", "cpu_count")])
    assert len(modelformats.pickle_globals(raw, limit=3)) == 3
    assert modelformats.describe_pickle(b"junk") == ""
