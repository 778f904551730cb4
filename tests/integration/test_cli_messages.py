"""What the ``trainscope`` command prints for a user's mistake: one clean line."""

from __future__ import annotations

import os
import subprocess
import sys


def test_blocking_an_unknown_plugin_is_one_clean_line() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRAINSCOPE_")}
    done = subprocess.run(
        [sys.executable, "-m", "trainscope", "-p", "no:bogus", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("trainscope: no plugin named 'bogus' is installed (installed: ")
    assert "PluginWarning" not in done.stderr
