"""Running an example the way its make target does: ``python -m`` from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` with no OpenAI key, so the scripted model plays the LLM."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
