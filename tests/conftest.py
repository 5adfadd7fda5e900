"""Fixtures shared by the front-door tests (packaging, Binder), and the session's SIGINT."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A command started in the background of a non-interactive shell (`make test &`, some CI
# runners) inherits SIGINT as ignored, and Python then leaves it ignored: Ctrl-C and
# `_thread.interrupt_main()` do nothing. The interrupt tests check what a user at a
# terminal or in a kernel gets, so the session runs with Python's default handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def checkout_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the files git would commit (tracked or new, not ignored).

    Building or pip-installing ``.`` writes ``*.egg-info`` and ``build/`` next to the
    sources; in the checkout, imports through PYTHONPATH would then find them.
    """
    to = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():  # a deleted file stays listed until committed
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, to / name)
    return to
