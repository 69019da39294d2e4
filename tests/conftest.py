"""Shared fixtures: the repository root, the shared reference folder, a running simulator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("QUANTMINI_SHARED")
    if env:
        return Path(env)
    return REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = shared_dir() / "fixtures" / "polygon"
    if not path.is_dir():
        pytest.fail(f"shared fixtures not found at {path} (set QUANTMINI_SHARED)")
    return path
