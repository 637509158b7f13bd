"""The documentation site builds with `mkdocs build --strict` and the reference is generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    res = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # a notice about the theme's future, not our docs
    )
    assert res.returncode == 0, res.stdout + res.stderr
    page = (tmp_path / "site" / "config-reference" / "index.html").read_text()
    # every top-level config key appears in the generated reference
    from bot.config import Config

    for key in Config.model_fields:
        assert f"<code>{key}" in page, key
    assert "mlgate:config-reference" not in page
