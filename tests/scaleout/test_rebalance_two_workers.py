"""Two workers, a rebalance mid-stream (one stopped or killed): the survivor's alert set must
equal replay's, each revocation acted on once.

Found and fixed on the way (this file found them): a parse stage and slices kept across a
rebalance, a batch in flight while partitions moved, progress marks and slices stored before the
events and alerts they stand for reached the broker, table writes queued in Faust's buffer past an
offset commit, messages Faust skips around a rebalance (the worker checks every partition's
offsets and fetches a hole again), and last: the test broker reports a partition's end as one
past the first record of its last batch, so table recovery stopped short of the newest slices
and a worker went on from older state (``worker.true_end_offsets``; test_end_offsets.py), and
Faust committing past messages no agent had processed at a stop (the commit cap; test_commit_cap.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditwatch.config import KafkaConfig
from auditwatch.demo.receiver import WebhookReceiver
from tests.scaleout.harness import (
    SECRET,
    WorkerProc,
    assert_alert_set,
    big_workload,
    replay,
    replay_key,
    ship_once,
    wait_until,
    write_config,
)
from tests.scaleout.test_worker_e2e import _revoked, _wait_revocations


def _in_parts(files: list[Path], parts: int) -> list[list[tuple[Path, bytes]]]:
    """Each file's lines cut into ``parts`` pieces (the files are truncated to nothing):
    appending piece i to every file is the stream going on."""
    out: list[list[tuple[Path, bytes]]] = [[] for _ in range(parts)]
    for f in files:
        lines = f.read_bytes().splitlines(keepends=True)
        step = -(-len(lines) // parts)
        for i in range(parts):
            out[i].append((f, b"".join(lines[i * step:(i + 1) * step])))
        f.write_bytes(b"")
    return out


def _append(piece: list[tuple[Path, bytes]]) -> None:
    for f, data in piece:
        with f.open("ab") as fh:
            fh.write(data)


# Once a known bug (issue 8): in about one run in eight a worker skipped messages after the
# rebalance and their alerts were missing. Traced (2026-12-06, per-batch offset logs): the stopping
# worker's final commit went past messages no agent had processed — Faust acknowledges messages it
# skips while its flow is suspended and the batch a cancelled agent held, and commits over a
# one-message gap. Commits are now capped at what the agents finished (test_commit_cap.py); after
# it 50 of 50 runs passed (32 SIGTERM, 18 SIGKILL; 12 of them under two CPU hogs).
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_two_workers_rebalance_mid_stream(kafka_cfg: KafkaConfig, tmp_path: Path, how: str) -> None:
    """Worker a starts alone on the first third of two streams; b joins (a hands over half its
    partitions, state included) and the second third is shipped; then a stops or is killed while
    it works and b takes everything, the last third too — partitions a held before and after b
    joined. Same alerts as replay on the whole files, each revocation acted on once."""
    files = big_workload(tmp_path, 60_000)
    ref = replay(files)
    want = {replay_key(a) for a in ref}
    assert _revoked(ref), "the workload must lead to revocations, or 'once' proves nothing"
    pieces = _in_parts(files, 3)
    with WebhookReceiver(SECRET) as rx:
        cfg_a = write_config(tmp_path, kafka_cfg, "wa", webhook_url=rx.url)
        cfg_b = write_config(tmp_path, kafka_cfg, "wb", webhook_url=rx.url)
        a = WorkerProc(cfg_a)
        b: WorkerProc | None = None
        try:
            _append(pieces[0])
            ship_once(cfg_a, files)
            wait_until(lambda: a.detected() > 2000, 90, "worker a to get going")
            b = WorkerProc(cfg_b)
            wait_until(lambda: b.assigned() > 0 and a.assigned() > 0, 60, "a and b to share the partitions")
            _append(pieces[1])
            ship_once(cfg_a, files)
            wait_until(lambda: b.detected() > 1000 and a.detected() + b.detected() > 25_000, 90,
                       "both to work on the second third")
            if how == "sigkill":
                a.kill9()
            else:
                a.stop()
            _append(pieces[2])
            ship_once(cfg_b, files)
            assert_alert_set(kafka_cfg, want, [b])
            _wait_revocations(rx, ref, kafka_cfg)
        finally:
            a.stop()
            if b is not None:
                b.stop()
        assert {r.webhook_id for r in rx.state.accepted} == _revoked(ref)
        # acted on once each. A worker killed between a delivery and the record of it reaching
        # Kafka leaves the other worker to send it again (its own outbox cannot know): the
        # idempotency key makes the receiver acknowledge that copy without acting on it
        assert len(rx.state.accepted) == len(_revoked(ref))
        if how == "sigterm":
            assert rx.state.duplicates == 0, "a graceful stop hands over what it answered"
        assert rx.state.duplicates <= 2, f"{rx.state.duplicates} re-sent revocations for one kill"
