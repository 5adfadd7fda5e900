"""The README's front door: ``make run`` serves the quickstart, ``make html`` writes copies.

The targets run through ``make`` itself with ``SETUP=:`` (no installation: the tests
run in an environment that is already set up) and ``PY=`` this interpreter.
``make run`` is started in a session of its own, like a terminal's foreground job, so
that the test's SIGINT to the whole group is exactly a Ctrl-C. Jupyter's config, data
and runtime folders are temporary, so the machine's Jupyter setup stays out of it.
``make html`` runs once for the module (every notebook executed; about 6 s each).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
QUICKSTART = "00_quickstart.ipynb"
URL_WAIT = 120.0  # seconds for JupyterLab to answer on two busy cores
STOP_WAIT = 30.0

pytest.importorskip("jupyterlab", reason="make run needs the dev extra (JupyterLab)")
if shutil.which("make") is None:
    pytest.skip("make is not installed (apt-get install make)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _make(target: str, *assignments: str) -> list[str]:
    return ["make", "--no-print-directory", target, f"PY={sys.executable}", "SETUP=:", *assignments]


def _jupyter_env(base: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CI": "true",  # as in CI: no browser
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def _lines(stream: object) -> tuple[queue.Queue[str], threading.Thread]:
    """A queue filled with the lines of ``stream`` by a reader thread (ended at EOF)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def _wait_for(lines: queue.Queue[str], pattern: str, seen: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + URL_WAIT
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    pytest.fail(f"no line matching {pattern!r} within {URL_WAIT:.0f} s:\n{''.join(seen)}")


@pytest.mark.timeout(300)  # the URL wait (120 s) and the stop (30 s) are bounded inside
def test_make_run_serves_the_quickstart_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    lab = subprocess.Popen(
        _make("run", f"PORT={port}"),
        cwd=ROOT,
        env=_jupyter_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        lines, reader = _lines(lab.stdout)
        url = _wait_for(lines, r"lab: open (http://127\.0\.0\.1:\d+/\S+)", seen).group(1)
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/{QUICKSTART}?token=")
        token = url.rsplit("token=", 1)[1]
        api = f"http://127.0.0.1:{port}/api/contents/{QUICKSTART}?token={token}"
        with urllib.request.urlopen(api, timeout=30) as answer:
            model = json.load(answer)
        assert model["type"] == "notebook"
        assert model["content"]["cells"][0]["source"].startswith("# 0. Quickstart")
        _wait_for(lines, r"no browser found here: open the URL above by hand", seen)
    finally:
        os.killpg(lab.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            lab.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
            pytest.fail(f"make run did not stop within {STOP_WAIT:.0f} s of Ctrl-C")
    reader.join(STOP_WAIT)  # make has exited: the pipe is at its end
    while not lines.empty():
        seen.append(lines.get())
    rest = "".join(seen)
    assert "lab: stopped" in rest, rest
    assert "Traceback" not in rest, rest
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        sock.bind(("127.0.0.1", port))  # JupyterLab is gone: nothing listens there


def _lab_script(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lab.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_says_what_to_do_when_the_port_is_in_use_or_dot_is_missing(
    tmp_path: Path,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _lab_script("--port", str(port), path=str(tmp_path))  # no `dot` on this PATH
    assert done.returncode == 1
    assert done.stderr == (
        f"lab: error: port {port} is in use (another Jupyter?): stop it, "
        f"or pick another port with `make run PORT={port + 1}`\n"
    )
    (warning,) = done.stdout.splitlines()
    assert "`dot` is missing" in warning
    assert "apt-get install graphviz" in warning


def test_make_run_names_a_missing_notebook() -> None:
    done = _lab_script("--notebook", "nope.ipynb", "--port", str(_free_port()))
    assert done.returncode == 1
    assert done.stderr.startswith("lab: error: no notebook 'nope.ipynb' in ")
    assert done.stderr.endswith(": pick one with --notebook\n")


def _lab_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lab", ROOT / "scripts" / "lab.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_browser_on_ci_or_on_a_screenless_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    lab = _lab_module()
    for name in ("CI", "BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert lab.has_browser() is False  # only console browsers could open: never lynx
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("DISPLAY", ":0")
    assert lab.has_browser() is False
    monkeypatch.delenv("CI")
    monkeypatch.setenv("BROWSER", "none")
    assert lab.has_browser() is False


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("html")
    done = subprocess.run(
        _make("html", f"HTML_DIR={out}"),
        cwd=ROOT,
        env=_jupyter_env(tmp_path_factory.mktemp("jupyter")),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


@pytest.mark.slow
@pytest.mark.timeout(660)  # the fixture runs every notebook (bounded at 600 s)
def test_make_html_writes_one_page_per_notebook_with_a_coloured_dag(
    html: tuple[Path, str],
) -> None:
    out, printed = html
    assert sorted(p.name for p in out.glob("*.html")) == [f"{p.stem}.html" for p in NOTEBOOKS]
    for notebook in NOTEBOOKS:
        page = out / f"{notebook.stem}.html"
        assert str(page) in printed  # the paths are printed
        text = page.read_text(encoding="utf-8")
        statuses = {s for svg in svgs_in(text) for s in re.findall(r'data-status="([a-z-]+)"', svg)}
        assert statuses - {"pending"}, f"{page.name}: no SVG of a DAG coloured by a run"
        assert "<table" in text, f"{page.name}: no table"


def svgs_in(page: str) -> list[str]:
    """The SVG pictures of an nbconvert page: inline, or as ``data:`` URIs of ``<img>``."""
    inline = re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)
    encoded = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    return inline + [base64.b64decode(data).decode("utf-8") for data in encoded]
