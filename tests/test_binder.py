"""``binder/`` works: install from its files as repo2docker would, run the quickstart there.

mybinder.org builds the image with repo2docker: Debian packages from ``apt.txt``, the
Python of ``runtime.txt``, then ``pip install -r binder/requirements.txt`` run from the
repository's root, into an environment that already holds JupyterLab and ipykernel.
This test does the same in a fresh virtual environment (without apt: it checks that the
packages of ``apt.txt`` are here instead): it installs ``requirements.txt`` from a copy of
the checkout plus ``ipykernel`` and ``nbclient`` (the stand-ins for repo2docker's base
environment), then executes ``notebooks/00_quickstart.ipynb`` in a kernel of that
environment, with no path back to this checkout. Packages come from the pip cache or
PyPI: about 70 s on two loaded cores with a warm cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
QUICKSTART = "notebooks/00_quickstart.ipynb"
BASE_ENVIRONMENT = ["ipykernel", "nbclient"]  # what repo2docker's image already has

RUN_NOTEBOOK = """
import json, sys
import nbclient, nbformat
notebook = nbformat.read(sys.argv[1], as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell(
    "import sys, dagron_nb; print(sys.prefix, dagron_nb.__file__)"
))
folder = {"metadata": {"path": sys.argv[3]}}  # the kernel starts where the notebook is
nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", resources=folder).execute()
nbformat.write(notebook, sys.argv[2])
"""


def test_binder_files_name_the_package_python_and_graphviz() -> None:
    assert re.fullmatch(r"python-3\.1[0-9]\n?", (BINDER / "runtime.txt").read_text())
    requirements = [
        line
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == [".[notebook]"]  # this repository, with the widget's extra
    assert "graphviz" in (BINDER / "apt.txt").read_text().split()


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~70 s when seven test suites share two cores, ~30 s alone
def test_binder_environment_runs_the_quickstart_notebook(
    checkout_copy: Path, tmp_path: Path
) -> None:
    if shutil.which("dot") is None:
        pytest.fail("binder/apt.txt's graphviz is missing here: sudo apt-get install graphviz")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of this checkout
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # `python` is the venv's
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(tmp_path / name.lower())
    # --no-compile: byte-compiling pandas, numpy and matplotlib would double the time
    install = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile"]
    subprocess.run(
        [*install, "-r", "binder/requirements.txt", *BASE_ENVIRONMENT],
        cwd=checkout_copy, env=env, check=True, timeout=600,
    )  # fmt: skip
    saved = tmp_path / "quickstart.ipynb"
    done = subprocess.run(
        [python, "-c", RUN_NOTEBOOK, QUICKSTART, str(saved), str(checkout_copy / "notebooks")],
        cwd=checkout_copy, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    notebook = json.loads(saved.read_text())
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    pictures = "".join(  # the final picture: an SVG, maybe inline in the widget's text/html
        "".join(o.get("data", {}).get(kind, ""))
        for o in outputs
        for kind in ("image/svg+xml", "text/html")
    )
    assert 'data-status="completed"' in pictures  # the run's final, coloured DAG
    prefix, module = "".join(outputs[-1]["text"]).split()
    assert Path(prefix) == venv
    assert Path(module).is_relative_to(venv), module  # the installed package, not a checkout


def test_readme_binder_link_opens_this_repositorys_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    (link,) = re.findall(r"^\[binder\]: (\S+)$", readme, flags=re.M)
    match = re.fullmatch(
        r"https://mybinder\.org/v2/gh/([^/]+/[^/]+)/HEAD\?urlpath=lab/tree/(\S+)", link
    )
    assert match, link
    repository, notebook = match.groups()
    assert (ROOT / notebook).is_file(), notebook
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Repository = "https://github.com/{repository}"' in pyproject  # one owner


def test_readme_links_to_files_of_this_repository_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", readme)
    assert "notebooks/00_quickstart.ipynb" in targets
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"
