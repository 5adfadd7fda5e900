"""The examples in the core's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dagron_nb",
    "dagron_nb.core.callbacks",
    "dagron_nb.core.errors",
    "dagron_nb.core.extras",
    "dagron_nb.core.fingerprint",
    "dagron_nb.core.graph",
    "dagron_nb.core.inspection",
    "dagron_nb.core.plan",
    "dagron_nb.core.results",
    "dagron_nb.core.tracing",
    "dagron_nb.core.tracebacks",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    outcome = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0
