"""The examples in the execution layer's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dagron_nb.execution.scheduler",
    "dagron_nb.execution.run",
    "dagron_nb.execution.capture",
    "dagron_nb.execution.threads",
    "dagron_nb.execution.aio",
    "dagron_nb.execution.pipeline",
    "dagron_nb.execution.cache",
    "dagron_nb.execution.cache_store",
    "dagron_nb.execution.cached",
    "dagron_nb.execution.outputs",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    outcome = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0
