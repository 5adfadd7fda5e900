"""Release-ready packaging: ``python -m build`` makes a wheel and an sdist that install.

``python -m build`` builds the sdist, then the wheel *from the sdist* (unpacked, in an
isolated environment whose setuptools comes from the pip cache or PyPI), so the wheel
is what ``pip install dagron_nb-X.tar.gz`` would build: a file missing from the sdist
breaks it. That wheel is installed with ``--no-deps`` (the core has no dependencies)
into a clean virtual environment without this checkout on its path, and used there.
Installing the sdist with pip a second time would only repeat the same build (~20 s).
About 30 s in all.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import dagron_nb

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("build", reason='python -m build needs the dev extra (pip install "build")')


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory, checkout_copy: Path) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(checkout_copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _one(dist: Path, pattern: str) -> Path:
    (path,) = dist.glob(pattern)
    return path


def test_the_version_lives_in_one_place() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, flags=re.M)
    assert re.search(r'^version = \{ attr = "dagron_nb.__version__" \}', pyproject, flags=re.M)
    assert not re.search(r'^version = "', pyproject, flags=re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", dagron_nb.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{dagron_nb.__version__}]" in changelog


@pytest.mark.slow
@pytest.mark.timeout(360)  # its fixture builds the sdist and the wheel (bounded at 300 s)
def test_wheel_ships_the_widget_front_end_and_the_metadata(dist: Path) -> None:
    wheel = _one(dist, f"dagron_nb-{dagron_nb.__version__}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"dagron_nb-{dagron_nb.__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
    static = ROOT / "dagron_nb" / "notebook" / "static"
    front_end = {f"dagron_nb/notebook/static/{p.name}" for p in static.iterdir()}
    assert front_end >= {"dagron_nb/notebook/static/live.js", "dagron_nb/notebook/static/live.css"}
    assert front_end <= names, sorted(front_end - names)
    assert "dagron_nb/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["Version"] == dagron_nb.__version__
    assert metadata["License-Expression"] == "MIT"
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: Jupyter :: JupyterLab" in classifiers
    assert "Typing :: Typed" in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Repository", "Changelog", "Issues", "Documentation"} <= set(urls)
    sdist = _one(dist, f"dagron_nb-{dagron_nb.__version__}.tar.gz")
    with tarfile.open(sdist) as archive:
        files = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "CHANGELOG.md", "LICENSE", "dagron_nb/notebook/static/live.js"} <= files


@pytest.mark.slow
@pytest.mark.timeout(360)  # may be the first to need the build fixture
def test_the_wheel_built_from_the_sdist_installs_and_runs_in_a_clean_venv(
    dist: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not this checkout
    wheel = _one(dist, "*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", str(wheel)],
        check=True, cwd=tmp_path, env=clean, timeout=240,
    )  # fmt: skip
    check = (
        "import dagron_nb, pathlib; "
        "dag = dagron_nb.DAG.builder().add_edge('a', 'b').build(); "
        "r = dagron_nb.DAGExecutor(dag).execute({'a': lambda: 1, 'b': lambda: 2}); "
        "static = pathlib.Path(dagron_nb.__file__).parent / 'notebook' / 'static' / 'live.js'; "
        "print(dagron_nb.__version__, r.succeeded, static.is_file(), dagron_nb.__file__)"
    )
    done = subprocess.run(
        [python, "-c", check], cwd=tmp_path, env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    version, succeeded, static, where = done.stdout.split()
    assert (version, succeeded, static) == (dagron_nb.__version__, "2", "True")
    assert where.startswith(str(venv)), where  # the installed copy, not this checkout
