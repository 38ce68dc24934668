"""``auditwatch bench sources``: parse + normalise throughput per source, one core.

Each source reads real samples: the public corpus when it is present
(``AUDITWATCH_CORPUS`` or ``../shared/corpus``), the demo scenario's own files
for CloudTrail and PostgreSQL jsonlog otherwise. Samples are loaded into
memory and read repeatedly, so the figure is parsing, not disk.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from auditwatch.streams.reader import read_stream

SAMPLES: dict[str, list[str]] = {
    "cloudtrail": ["invictus-ir-aws-dataset/CloudTrail/*.json.gz", "stratus-red-team/*.json"],
    "postgres-stderr": ["immudb-log-audit/pgaudit_stderr.log"],
    "postgres-jsonlog": ["immudb-log-audit/pgaudit_jsonlog.log"],
    "gcp-audit": ["ibm-universal-connectors/gcp-audit/bigtable/*.json", "ibm-universal-connectors/gcp-audit/*.json"],
    "azure-activity": ["azure-activity-dynatrace-forwarder-fork/log3.sh"],
    "kubernetes-audit": ["immudb-log-audit/k8s.log.gz", "falco-k8s-audit/*.json"],
    "mariadb-audit": ["ibm-universal-connectors/mariadb/*.log"],
    "mysql-audit-json": ["ibm-universal-connectors/mysql/mysql_enterprise_audit_json.log"],
    "percona-audit": ["ibm-universal-connectors/mysql/percona_audit_via_logstash_debug.log"],
}


def corpus_dir() -> Path:
    return Path(os.environ.get("AUDITWATCH_CORPUS", Path(__file__).resolve().parents[2].parent / "shared" / "corpus"))


def _blobs(name: str, corpus: Path) -> list[bytes]:
    out = []
    for pattern in SAMPLES.get(name, []):
        for f in sorted(corpus.glob(pattern)):
            data = f.read_bytes()
            out.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return out


def _mapping_examples() -> dict[str, list[bytes]]:
    """Mapped sources ship whole example records with their mapping."""
    import orjson
    import yaml

    from auditwatch.streams.sources.mapped_json import shipped_mapping_files

    out = {}
    for f in shipped_mapping_files():
        doc = yaml.safe_load(f.read_text())
        lines = b"".join(orjson.dumps(e) + b"\n" for e in doc.get("examples", []))
        if lines:
            out[doc["name"]] = [lines]
    return out


def _demo_blobs() -> dict[str, list[bytes]]:
    from auditwatch.demo import scenario

    with tempfile.TemporaryDirectory() as d:
        files = scenario.write(Path(d))
        return {"cloudtrail": [gzip.decompress(files["cloudtrail"].read_bytes())],
                "postgres-jsonlog": [files["postgres"].read_bytes()]}


def run_bench(min_events: int = 20_000) -> dict[str, Any]:
    import auditwatch.streams.sources.detect as det

    corpus = corpus_dir()
    have_corpus = corpus.is_dir()
    demo = _demo_blobs() | _mapping_examples()
    results: dict[str, Any] = {}
    for name in sorted(det.SOURCES):
        blobs = _blobs(name, corpus) if have_corpus else []
        origin = "corpus"
        if not blobs and name in demo:
            blobs, origin = demo[name], "shipped examples" if name not in ("cloudtrail", "postgres-jsonlog") else "demo"
        if not blobs:
            results[name] = {"events_per_s": None, "note": "no sample available"}
            continue
        per_pass = sum(1 for b in blobs for it in read_stream(io.BufferedReader(io.BytesIO(b)), "bench", name)
                       if not hasattr(it, "reason"))
        if per_pass == 0:
            results[name] = {"events_per_s": None, "note": "samples produced no events"}
            continue
        passes = max(1, min_events // per_pass)
        t0 = time.perf_counter()
        n = 0
        for _ in range(passes):
            for b in blobs:
                for it in read_stream(io.BufferedReader(io.BytesIO(b)), "bench", name):  # type: ignore[arg-type]
                    n += not hasattr(it, "reason")
        dt = time.perf_counter() - t0
        results[name] = {"events_per_s": round(n / dt, 1), "events": n, "samples": origin}
    return {"sources": results, "corpus": str(corpus) if have_corpus else None}


def render(r: dict[str, Any]) -> str:
    lines = [f"parse + normalise, one core (samples: {r['corpus'] or 'demo scenario only'}):"]
    for name, v in r["sources"].items():
        if v["events_per_s"] is None:
            lines.append(f"  {name:22} {'-':>12}  ({v['note']})")
        else:
            lines.append(f"  {name:22} {v['events_per_s']:>12,.0f} events/s  ({v['events']} events, {v['samples']})")
    return "\n".join(lines)
