"""The examples in the format layer's docstrings run, as written."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import stable_baselines_io.format as format_package

MODULES = sorted(f"{format_package.__name__}.{info.name}" for info in pkgutil.iter_modules(format_package.__path__))


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {module_name}"


def test_the_public_io_functions_have_examples() -> None:
    finder = doctest.DocTestFinder()
    with_examples = {test.name.rsplit(".", 1)[-1] for name in MODULES
                     for test in finder.find(importlib.import_module(name)) if test.examples}
    # module docstrings count for the module's main pair of functions
    assert {"files", "params_codec", "budget", "read_errors", "_crc", "is_temporary_of"} <= with_examples
