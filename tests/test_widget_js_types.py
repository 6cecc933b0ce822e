"""``js/widget.js`` type-checks: ``tsc --noEmit`` over its JSDoc, strict (see jsconfig.json).

``.ci/run`` installs TypeScript into ``.ci/node``; elsewhere set ``CONVSCOPE_TSC`` to a ``tsc``,
or put one on the PATH. Without node or tsc the test is skipped and says which is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def find_tsc() -> str | None:
    candidates = [
        os.environ.get("CONVSCOPE_TSC"),
        str(ROOT / ".ci" / "node" / "node_modules" / ".bin" / "tsc"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("tsc")


def test_the_frontend_type_checks_strictly() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: .ci/run installs it (apt-get install nodejs npm)")
    tsc = find_tsc()
    if tsc is None:
        pytest.skip(
            "TypeScript's tsc is not installed: run `npm install --prefix .ci/node typescript@5`"
        )
    result = subprocess.run(  # noqa: S603 - our own tsc on our own files
        [tsc, "--noEmit", "-p", str(ROOT / "jsconfig.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_is_strict_and_covers_the_widget() -> None:
    options = json.loads((ROOT / "jsconfig.json").read_text())
    assert options["compilerOptions"]["strict"] is True
    assert options["compilerOptions"]["checkJs"] is True
    assert (ROOT / "js" / "widget.js").read_text().startswith("// @ts-check\n")
    assert "js/*.js" in options["include"]
