"""The one way dagron_nb imports an optional dependency.

``core`` and ``execution`` must import without Jupyter, pandas, graphviz or
dask installed; code that needs one of them calls ``optional_import`` inside
the function, and a user without it gets an ``ImportError`` that names the
extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: which extra of dagron_nb brings each optional top-level module
EXTRA_FOR = {
    "pandas": "notebook",
    "matplotlib": "notebook",
    "graphviz": "notebook",
    "IPython": "notebook",
    "ipywidgets": "notebook",
    "anywidget": "notebook",
    "nest_asyncio": "notebook",
    "dask": "dask",
    "distributed": "dask",
}


def optional_import(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise an ImportError saying which extra brings it.

    >>> optional_import("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRA_FOR.get(top, "notebook")
        why = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"{top} is needed{why} but is not installed. "
            f'Install it with: pip install "dagron_nb[{extra}]"'
        ) from exc
