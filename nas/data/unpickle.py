"""A restricted unpickler for CIFAR's python-format batches: data, never code.

A pickle can call any importable function while it loads (``os.system`` through a ``REDUCE``), so a batch
from a user's ``--data-dir`` is read with an unpickler whose ``find_class`` admits only what the format
holds: numpy arrays (``_reconstruct``/``ndarray``/``dtype``, protocol 5's ``_frombuffer``, numpy scalars)
and protocol 2's ``_codecs.encode`` (how Python 3 writes ``bytes`` there). Everything else is refused
before it is imported, and the loaded value is checked to be plain data.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from nas.data.errors import DataError

# (module, name) a CIFAR batch may reference; numpy 1 wrote ``numpy.core``, numpy 2 writes ``numpy._core``
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}
_RENAMED = {"numpy.core.multiarray": "numpy._core.multiarray", "numpy.core.numeric": "numpy._core.numeric"}
_PLAIN = (bytes, str, int, float, bool, type(None))


class _DataOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = _RENAMED.get(module, module)
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it references {module}.{name}, which a data file never needs")
        if module.startswith("numpy._core") and not hasattr(np, "_core"):  # numpy 1 has only numpy.core
            module = module.replace("numpy._core", "numpy.core")
        return super().find_class(module, name)


def _check_plain(value: Any, depth: int = 0) -> None:
    """Only dicts, lists, tuples, numeric arrays and scalars: no object arrays, nothing else."""
    if depth > 4:
        raise pickle.UnpicklingError("it nests deeper than a data batch does")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_plain(v, depth + 1)
    elif isinstance(value, np.ndarray | np.generic):
        if value.dtype.hasobject:
            raise pickle.UnpicklingError("it holds an array of Python objects")
    elif not isinstance(value, _PLAIN):
        raise pickle.UnpicklingError(f"it holds a {type(value).__name__}")


def load_data_pickle(blob: bytes, source: str) -> dict:
    """The dict in ``blob`` (read from ``source``, named in errors), loaded without running code."""
    try:
        value = _DataOnly(io.BytesIO(blob), encoding="bytes").load()
        _check_plain(value)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"{source} is not a CIFAR python-format batch: {e}") from None
    if not isinstance(value, dict):
        raise DataError(f"{source} is not a CIFAR python-format batch: it holds a {type(value).__name__}")
    return value
