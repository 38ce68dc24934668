"""Shared test helpers.

``need(cond, reason)`` skips a test whose system part (a server binary, the
public corpus) is missing — except under CI, where ``.ci/run`` sets
``AUDITWATCH_STRICT_SKIPS=1`` and a missing part fails the test instead, so
nothing real is silently skipped there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("AUDITWATCH_STRICT_SKIPS") == "1"


def need(cond: object, reason: str) -> None:
    if cond:
        return
    if STRICT:
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


def corpus_dir() -> Path:
    return Path(os.environ.get("AUDITWATCH_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    d = corpus_dir()
    need(d.is_dir(), f"public log corpus not found at {d} (set AUDITWATCH_CORPUS to its path)")
    return d


from tests.pgcluster import pg_cluster  # noqa: E402,F401  (the real PostgreSQL fixture, session-wide)
