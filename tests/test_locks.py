"""The dependency locks: exact pins with hashes, the deploy archive's requirements generated
from the runtime lock (runtime only), and a pyproject.toml edit without `make lock` caught
offline by the inputs digest the locks record (scripts/lock.py --check, run by CI)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
TOKEN_LOCK = "functions/requirements-token.txt"
LOCKED = ("requirements.lock", "requirements-dev.lock", "functions/requirements.txt", TOKEN_LOCK)


def pins(path: Path) -> dict[str, str]:
    """name -> version of every requirement line; each must be an exact pin with a hash."""
    text = path.read_text()
    found: dict[str, str] = {}
    for entry in re.split(r"\n(?=[^\s#])", text):
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        match = PIN.match(entry)
        assert match, f"{path.name}: not an exact pin: {entry.splitlines()[0]}"
        assert "--hash=sha256:" in entry, f"{path.name}: {match.group(1)} has no hash"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {canonicalize_name(Requirement(spec).name) for spec in specs}


def test_deployed_requirements_are_the_runtime_lock_exactly_pinned_with_no_dev_tools() -> None:
    deployed = pins(ROOT / "functions" / "requirements.txt")
    assert deployed == pins(ROOT / "requirements.lock")
    assert declared() <= deployed.keys()
    dev_only = declared("dev") - declared()
    assert not dev_only & deployed.keys(), "dev tools would be uploaded to Cloud Functions"


def test_dev_lock_pins_the_dev_extra_and_the_runtime_at_the_same_versions() -> None:
    dev, runtime = pins(ROOT / "requirements-dev.lock"), pins(ROOT / "requirements.lock")
    assert declared("dev") | declared() <= dev.keys()
    assert {name: dev[name] for name in runtime} == runtime


def group(name: str) -> set[str]:
    specs = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"][name]
    return {canonicalize_name(Requirement(spec).name) for spec in specs}


def test_the_token_lock_is_its_group_at_the_runtime_locks_versions_without_crypto() -> None:
    token, runtime = pins(ROOT / TOKEN_LOCK), pins(ROOT / "requirements.lock")
    assert group("token-function") <= token.keys() <= runtime.keys()
    assert {name: runtime[name] for name in token} == token  # the same versions, not a second world
    # what makes the token archive worth having: PyJWT finds no cryptography to import
    assert not {"cryptography", "cffi", "pydantic", "pydantic-core", "google-auth"} & token.keys()
    assert not {n for n in token if n.startswith(("google-", "grpcio"))}


def lock_check_after_editing_pyproject(
    tmp_path: Path, old: str, new: str
) -> subprocess.CompletedProcess[str]:
    """`scripts/lock.py --check` on a copy of the project whose pyproject.toml had ``old``
    replaced by ``new`` and nothing re-locked."""
    for name in ("pyproject.toml", *LOCKED):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    assert old in text
    pyproject.write_text(text.replace(old, new, 1))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), "--check", "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lock_check_fails_offline_when_pyproject_changed_without_make_lock(
    tmp_path: Path,
) -> None:
    out = lock_check_after_editing_pyproject(tmp_path, '  "requests>=2.31",', '  "requests>=2.32",')
    assert out.returncode == 1
    assert "requirements.lock" in out.stderr and "run `make lock`" in out.stderr
    assert TOKEN_LOCK in out.stderr  # its digest covers the same inputs


def test_lock_check_fails_offline_when_the_token_group_changed_without_make_lock(
    tmp_path: Path,
) -> None:
    out = lock_check_after_editing_pyproject(
        tmp_path, '  "prometheus-client>=0.20",\n  "PyYAML', '  "PyYAML'
    )
    assert out.returncode == 1, out.stderr
    assert TOKEN_LOCK in out.stderr
