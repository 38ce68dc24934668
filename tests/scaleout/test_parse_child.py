"""The worker's parse process (``streams/scaleout/parse_child.py``), killed and orphaned for real.

The parse state — the parsers of the files followed, and the records they hold — lives only in
the child. A child killed mid-stream must stop its worker before it commits past what the child
held, and the next worker must still give `auditwatch replay`'s alerts; a worker killed with
SIGKILL must not leave its child behind.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from auditwatch.config import KafkaConfig
from tests.scaleout.harness import (
    WorkerProc,
    assert_alert_set,
    big_workload,
    replay,
    replay_key,
    ship_once,
    wait_until,
    write_config,
)


def _parse_child(worker_pid: int) -> int:
    """The pid of the worker's parse process (its other child is multiprocessing's resource tracker)."""
    kids = Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text().split()
    found = [int(k) for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()
             and b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes()]
    assert len(found) == 1, f"parse children of {worker_pid}: {found} (all children: {kids})"
    return found[0]


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.split(")")[1].split()[0] == "Z"  # a zombie has exited; only its parent's wait is left


def test_parse_child_killed_stops_the_worker_and_nothing_is_lost(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    files = big_workload(tmp_path, 40_000)
    want = {replay_key(a) for a in replay(files)}
    assert len(want) >= 10
    cfg = write_config(tmp_path, kafka_cfg, "w1")
    ship_once(cfg, files)
    w = WorkerProc(cfg)
    try:
        wait_until(lambda: w.detected() > 2000, 90, "the worker to get going")
        child = _parse_child(w.proc.pid)
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: not w.alive(), 60, "the worker to stop after its parse process died")
        assert "parse process died" in w.output(), w.output()
        assert w.proc.returncode == 70, w.output()  # os._exit: no graceful stop, no final commit
        w2 = WorkerProc(cfg)
        try:
            assert_alert_set(kafka_cfg, want, [w2])
        finally:
            w2.stop()
    finally:
        w.stop()


def test_worker_killed_leaves_no_parse_process(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, kafka_cfg, "w1")
    w = WorkerProc(cfg)
    try:
        wait_until(lambda: w.assigned() > 0, 90, "the worker to hold partitions")
        child = _parse_child(w.proc.pid)
        assert not _gone(child)
        w.kill9()
        wait_until(lambda: _gone(child), 10, f"parse process {child} to exit after its worker was killed")
    finally:
        w.stop()


def test_parse_child_killed_while_the_worker_has_nothing_to_parse(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """No batch will ever find the dead child: the worker's watch must (in CI, a child killed
    after the parse stage had read everything left the worker detecting with no parser)."""
    cfg = write_config(tmp_path, kafka_cfg, "w1")
    w = WorkerProc(cfg)
    try:
        wait_until(lambda: w.assigned() > 0, 90, "the worker to hold partitions")
        os.kill(_parse_child(w.proc.pid), signal.SIGKILL)
        wait_until(lambda: not w.alive(), 30, "the idle worker to stop after its parse process died")
        assert "parse process died" in w.output(), w.output()
        assert w.proc.returncode == 70, w.output()
    finally:
        w.stop()
