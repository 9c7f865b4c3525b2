"""Running the installed ``moldau`` executable against a broker, as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

MOLDAU = Path(sys.executable).parent / "moldau"
RUN_TIMEOUT = 60.0


def run_moldau(
    *args: str, input: str | None = None, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MOLDAU), *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Cli:
    """``moldau`` bound to one broker: ``cli("topics", "list")`` appends ``--bootstrap-server``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_moldau(*args, "--bootstrap-server", self.bootstrap, input=input)

    def __call__(self, *args: str, input: str | None = None) -> str:
        """Run, insist on exit code 0 and a stderr without a traceback; return stdout."""
        result = self.run(*args, input=input)
        assert result.returncode == 0, f"moldau {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--output", "json"))


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, code: int = 1) -> str:
    """The command failed with ``code`` and said why in exactly one stderr line; returns that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """argparse's way: usage, then ``<prog>: error: ...``, exit code 2."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert ": error: " in last, result.stderr
    for fragment in fragments:
        assert fragment in last, last
