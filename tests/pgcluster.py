"""The real PostgreSQL fixture: one throw-away cluster per test session (see
``auditwatch.pgcluster``)::

    def test_something(pg_cluster):
        pg_cluster.psql("DROP TABLE t", user="agent_rw", db="prod_app", app="cursor-agent")
        pg_cluster.wait_for(lambda text: "DROP TABLE t" in text)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditwatch.pgcluster import (  # noqa: F401  (re-exported for the tests)
    ADMIN_USER,
    AGENT_PASSWORD,
    AGENT_USER,
    PG_BIN,
    PGAUDIT_SO,
    PROD_DB,
    PgCluster,
    PgClusterError,
    free_port,
    missing,
)
from tests.conftest import need


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A running PostgreSQL 15 + pgaudit cluster, seeded; stopped and removed at session end."""
    why = missing()
    need(why is None, why or "")
    c = PgCluster()
    try:
        c.start()
        c.seed()
        yield c
    finally:
        c.stop()
