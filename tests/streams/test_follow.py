"""Following files: growth, partial lines, rotation, truncation, restart offsets."""

from __future__ import annotations

import json
import os
from pathlib import Path

from auditwatch.demo.scenario import _audit, _pg
from auditwatch.model import Event
from auditwatch.streams.follow import FileFollower
from auditwatch.streams.sources.base import DeadLetter


def line(n: int, sql: str = "SELECT 1", session: str = "s1") -> str:
    return json.dumps(_pg(n, "bob", "prod_app", "psql", session, n, 100, _audit(n, "READ", "SELECT", "", "", sql))) + "\n"


def drain(f: FileFollower, rounds: int = 3) -> list[Event | DeadLetter]:
    out: list[Event | DeadLetter] = []
    for _ in range(rounds):
        out += f.poll()
    f.idle_flush = 0.0
    out += f.poll()
    f.idle_flush = 0.05
    return out


def test_growth_partial_lines_rotation_and_truncation(tmp_path: Path) -> None:
    p = tmp_path / "pg.json"
    p.write_text(line(1))
    f = FileFollower(p, "postgres-jsonlog")
    assert [e.action.name for e in drain(f)] == ["SELECT"]
    # a partial line is held until its newline arrives
    text = line(2, "DROP TABLE x")
    with open(p, "a") as fh:
        fh.write(text[:30])
    assert drain(f) == []
    with open(p, "a") as fh:
        fh.write(text[30:])
    (ev,) = drain(f)
    assert isinstance(ev, Event) and ev.action.categories == ("data.destroy",) and ev.source.line == 2
    # rotation: the old file is renamed, a new one appears at the path
    with open(p, "a") as fh:
        fh.write(line(3))
    os.rename(p, tmp_path / "pg.json.1")
    p.write_text(line(4, "TRUNCATE t"))
    got = drain(f)
    assert [e.source.line for e in got] == [3, 1] and got[1].action.name == "SELECT"
    # truncation in place (copytruncate): start again from the top
    p.write_text(line(5, "DROP SCHEMA backups"))
    got = drain(f)
    assert len(got) == 1 and "backup.destroy" in got[0].action.categories


def test_restart_resumes_from_the_committed_offset(tmp_path: Path) -> None:
    p = tmp_path / "pg.json"
    p.write_text(line(1) + line(2))
    f = FileFollower(p, "postgres-jsonlog")
    assert len(drain(f)) == 2
    pos = f.committable
    assert pos is not None and pos[1] == p.stat().st_size
    with open(p, "a") as fh:
        fh.write(line(3, "DROP TABLE y"))
    g = FileFollower(p, "postgres-jsonlog", start=pos)
    got = drain(g)
    assert [e.source.line for e in got] == [3]


def test_unknown_content_is_dead_lettered(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_text("hello world\nnot a log\n")
    got = drain(FileFollower(p))
    assert [d.reason.startswith("unrecognised format") for d in got] == [True, True]
