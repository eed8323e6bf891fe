"""requirements.lock pins, with hashes, every dependency pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    found = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$", requirement)
        assert match, requirement
        found[normalised(match.group(1))] = match.group(3).strip()
    return found


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            pins[normalised(match.group(1))] = match.group(2)
    return pins


def test_every_declared_dependency_is_pinned_in_the_lock_file():
    missing = sorted(set(declared()) - set(locked()))
    assert not missing, f"run `make lock`: {missing} are declared in pyproject.toml but not locked"


def test_torch_is_locked_to_the_local_cpu_build():
    assert locked()["torch"] == "2.13.0+cpu"


def test_every_pin_carries_a_hash():
    text = (ROOT / "requirements.lock").read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 1)[1])
    pinned = [block for block in blocks if "==" in block.splitlines()[0]]
    assert pinned and all("--hash=sha256:" in block for block in pinned)
