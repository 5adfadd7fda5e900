"""``make run``: JupyterLab on ``notebooks/`` with the quickstart notebook open.

Standard library only (it must speak even when the package is broken). It checks what
the live pictures need, picks the token itself so that it knows the URL without parsing
Jupyter's log, starts ``python -m jupyterlab`` bound to 127.0.0.1 in a session of its
own (so that the terminal's Ctrl-C reaches only this script), waits a bounded time for
the server to answer, prints the URL and opens a browser when there is one. Ctrl-C (or
SIGTERM) stops the server with SIGTERM, which Jupyter handles by shutting its kernels
down, and this script exits 0. Every problem is one line that says what to do.

Usage: python scripts/lab.py [--port 8888] [--notebook 00_quickstart.ipynb] [--no-browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
START_TIMEOUT = 90.0  # seconds JupyterLab may take to answer on a busy machine
STOP_TIMEOUT = 15.0  # seconds it may take to shut its kernels down


class LabError(Exception):
    """A problem the user can fix; the message says how."""


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--notebook", default="00_quickstart.ipynb")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    return parser.parse_args(argv)


def check_port(port: int) -> None:
    with socket.socket() as sock:
        # as Jupyter binds: a port left in TIME_WAIT by the last run is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise LabError(
                f"port {port} is in use (another Jupyter?): stop it, "
                f"or pick another port with `make run PORT={port + 1}`"
            ) from None


def check_prerequisites(notebook: str) -> None:
    if not (NOTEBOOKS / notebook).is_file():
        raise LabError(f"no notebook {notebook!r} in {NOTEBOOKS}: pick one with --notebook")
    if importlib.util.find_spec("jupyterlab") is None:  # finding is quick, importing is not
        raise LabError(
            f"JupyterLab is not installed for {sys.executable}: run `make setup` "
            '(or pip install "dagron_nb[dev]")'
        )
    if shutil.which("dot") is None:
        # not fatal: the notebooks run, the widget says the same thing in place of the picture
        say(
            "warning: Graphviz's `dot` is missing, so the DAGs cannot be drawn: "
            "sudo apt-get install graphviz (or brew / conda install graphviz)"
        )


def say(line: str) -> None:
    print(f"lab: {line}", flush=True)


def lab_command(port: int, token: str, notebook: str) -> list[str]:
    # root is how a fresh Debian container runs; the server listens on 127.0.0.1 only
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",  # this script opens it once the server answers
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",  # the printed URL must be the real one
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={NOTEBOOKS}",
        f"--ServerApp.default_url=/lab/tree/{notebook}",
        "--ServerApp.log_level=WARN",
        "--LabApp.news_url=",  # no "receive Jupyter news?" toast
        *as_root,
    ]


def wait_until_up(server: subprocess.Popen[bytes], base: str, token: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise LabError(f"JupyterLab exited with code {server.returncode}; see its log above")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)  # polling a server that is still starting
    raise LabError(f"JupyterLab did not answer within {START_TIMEOUT:.0f} s; see its log above")


def has_browser() -> bool:
    """A graphical browser we may open without taking over this terminal."""
    if os.environ.get("CI") or (not sys.stdout.isatty() and "BROWSER" not in os.environ):
        return False
    if os.environ.get("BROWSER", "").lower() in {"none", "false", "0"}:
        return False
    graphical = sys.platform in {"darwin", "win32"} or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if not graphical and "BROWSER" not in os.environ:
        return False  # only console browsers (lynx, w3m) could open here
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def open_browser(url: str) -> bool:
    try:
        return webbrowser.open(url)
    except Exception:  # a broken browser setup must not stop the server
        return False


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    say("stopping JupyterLab ...")
    server.terminate()
    try:
        server.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        say(f"JupyterLab did not stop within {STOP_TIMEOUT:.0f} s; killing it")
        server.kill()
        server.wait()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(args: argparse.Namespace) -> int:
    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{args.port}"
    url = f"{base}/lab/tree/{args.notebook}?token={token}"
    # Ctrl-C and SIGTERM both stop the server; a shell that started us in the background
    # may have told us to ignore SIGINT, so set its handler explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    server = subprocess.Popen(lab_command(args.port, token, args.notebook), start_new_session=True)
    try:
        say(f"starting JupyterLab on {base} (notebooks/) ...")
        wait_until_up(server, base, token)
        say(f"open {url}")
        if args.no_browser:
            pass
        elif has_browser() and open_browser(url):
            say("opened in your browser; Ctrl-C here stops the server")
        else:
            say("no browser found here: open the URL above by hand; Ctrl-C here stops the server")
        server.wait()
        say(f"JupyterLab exited with code {server.returncode}")
        return server.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        stop(server)
        say("stopped")


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        check_prerequisites(args.notebook)
        check_port(args.port)
        return serve(args)
    except LabError as error:
        print(f"lab: error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
