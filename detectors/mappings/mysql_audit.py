"""MySQL-family audit logs: object-level operations -> taxonomy categories.

Statements are classified by ``detectors/sql/classify.py``; this table is only
for the records that name a *table* and what happened to it, without being the
statement itself: MariaDB ``server_audit`` TABLE events (``READ``, ``WRITE``,
``CREATE``, ``ALTER``, ``RENAME``, ``DROP`` on ``db.table``) and MySQL
Enterprise Audit ``table_access`` events (``read``, ``insert``, ``update``,
``delete``).

Two facts decide each entry, both checked against a real MariaDB 10.11:

* what the operation does to the table by itself. ``DROP`` and ``RENAME`` are
  written as the statement they amount to (``as_sql``: ``DROP TABLE db.t``,
  ``RENAME TABLE db.t TO db.u``) and the SQL classifier decides, so a table
  event and a statement agree by construction (data.destroy; also
  backup.destroy when the table is named like a backup). A ``delete`` or
  ``update`` event is destructive only if its statement is (a ``WHERE``
  decides), so it takes the statement's categories (``from_statement``);
* whether the server writes the record only once the operation was carried
  out (``done_when_logged``): MariaDB writes ``DROP``/``RENAME``/``CREATE``
  after doing it (a failing ``DROP TABLE p`` blocked by a foreign key writes no
  ``DROP`` record, ``DROP TABLE t9, missing`` writes ``DROP t9`` and then fails),
  while ``READ``/``WRITE``/``ALTER`` are written when the table is opened, before
  the statement may still fail.

What is deliberately *not* here: connection records (``CONNECT``,
``FAILED_CONNECT`` ...) carry no categories; a failed login is an outcome, not
an act.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditwatch.detectors.sql.classify import classify


@dataclass(frozen=True, slots=True)
class ObjectOp:
    categories: tuple[str, ...] = ()  # what the operation itself does (fixed)
    resource_type: str = "table"
    done_when_logged: bool = False  # the record is written only after the operation succeeded
    as_sql: str = ""  # the operation as a statement; the SQL classifier gives its categories
    from_statement: bool = False  # destructive or not depends on the statement: take its categories


# MariaDB server_audit TABLE events (operation field)
SERVER_AUDIT_TABLE_OPS: dict[str, ObjectOp] = {
    "DROP": ObjectOp(as_sql="DROP TABLE {table}", done_when_logged=True),
    "RENAME": ObjectOp(as_sql="RENAME TABLE {table} TO {target}", done_when_logged=True),
    "CREATE": ObjectOp(done_when_logged=True),
    "ALTER": ObjectOp(),
    "READ": ObjectOp(),
    "WRITE": ObjectOp(),
}

# MariaDB server_audit connection records (operation field)
SERVER_AUDIT_CONNECTION_OPS: frozenset[str] = frozenset(
    {"CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "PROXY_CONNECT"}
)

# MySQL Enterprise Audit: class "table_access", field "event"
ENTERPRISE_TABLE_ACCESS: dict[str, ObjectOp] = {
    "read": ObjectOp(),
    "insert": ObjectOp(from_statement=True),
    "update": ObjectOp(from_statement=True),
    "delete": ObjectOp(from_statement=True),
}


def object_op(table: dict[str, ObjectOp], name: str) -> ObjectOp:
    """The entry for an operation; an unknown one is recorded without categories."""
    return table.get(name, ObjectOp())


def object_categories(
    op: ObjectOp, table: str, target: str = "", statement: str = ""
) -> tuple[str, ...]:
    """Categories of one object event: fixed, from the equivalent statement, or from
    the statement that touched the table (``statement``, MySQL dialect)."""
    if op.from_statement:
        sql = statement
    elif op.as_sql:
        sql = op.as_sql.format(table=_quoted(table), target=_quoted(target or table))
    else:
        return op.categories
    if not sql:
        return op.categories
    return tuple(
        sorted({c for v in classify(sql, "mysql") for c in v.categories} | set(op.categories))
    )


def _quoted(name: str) -> str:
    """``db.table`` as MySQL identifiers (a dot splits database from table once)."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split(".", 1))
