"""``make html``: run every notebook headless and write an HTML copy of each.

Each ``notebooks/NN_*.ipynb`` is executed from top to bottom in a fresh kernel with
nbclient (the live widgets replace themselves with static SVG pictures when their run
ends, so the copies show the final coloured DAGs), then exported with nbconvert to
``build/html/NN_*.html``; the executed notebooks go next to them as ``.ipynb``. Cells
tagged ``raises-exception`` may fail (they show a failure on purpose); any other error
stops with the notebook and cell named. The paths written are printed, one a line.

Usage: python scripts/export_html.py [--out build/html] [notebooks/NN_name.ipynb ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 120  # seconds; every teaching notebook runs in well under a minute


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "html")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if not args.notebooks:
        args.notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return args


def execute(path: Path) -> Any:
    """The notebook at ``path``, run in a kernel whose working folder is the notebook's."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        store_widget_state=False,  # a saved widget view is blank without a kernel
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def export(notebook: Any, stem: str, out: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    html = out / f"{stem}.html"
    html.write_text(body, encoding="utf-8")
    nbformat.write(notebook, out / f"{stem}.ipynb")
    return html


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        import nbclient
        from nbconvert import HTMLExporter  # noqa: F401
    except ImportError:
        print(
            f"make html: error: nbclient / nbconvert are missing for {sys.executable}: "
            'run `make setup` (or pip install "dagron_nb[dev]")',
            file=sys.stderr,
        )
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        started = time.perf_counter()
        try:
            notebook = execute(path.resolve())
        except nbclient.exceptions.CellExecutionError as error:
            first = str(error).strip().splitlines()[-1]
            print(
                f"make html: error: {path.name} failed in a cell not tagged "
                f"raises-exception: {first}; run it in JupyterLab to see the cell",
                file=sys.stderr,
            )
            return 1
        html = export(notebook, path.stem, args.out)
        print(
            f"{html.relative_to(ROOT) if html.is_relative_to(ROOT) else html}"
            f"  ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
