"""The ``auditwatch`` command line."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from auditwatch.errors import ConfigError


def _load(config: str | None):  # type: ignore[no-untyped-def]
    from auditwatch.config import load_config

    try:
        return load_config(config)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="auditwatch")
def main() -> None:
    """auditwatch: watch audit logs, tell agents from people, stop destruction."""


@main.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), help="YAML configuration.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="table", show_default=True,
              help="How alerts are printed.")
@click.option("--events", is_flag=True, help="Print every normalised event (JSON lines) instead of alerts.")
@click.option("--input-format", default="auto", show_default=True,
              help="Source format (auto-detected by default); `auditwatch formats` lists them.")
@click.option("--environment", default="", help="Declare the environment of every event in these files.")
@click.option("--stats", is_flag=True,
              help="Backtest: print per rule how many alerts and incidents it would have raised (implies --dry-run).")
@click.option("--dry-run", is_flag=True, help="Decide responses but send none (no revocation leaves).")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
def replay(config: str | None, fmt: str, events: bool, input_format: str, environment: str, stats: bool,
           dry_run: bool, files: tuple[str, ...]) -> None:
    """Read FILES to the end and print alerts (or events). '-' reads stdin."""
    from auditwatch.responders.console import jsonl, table_header, table_row
    from auditwatch.streams.embedded import Pipeline
    from auditwatch.streams.reader import read_path, read_stream
    from auditwatch.streams.sources.detect import canonical

    cfg = _load(config)
    if stats or dry_run:
        cfg.responders.dry_run = True
    try:
        canonical(input_format)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--input-format") from None
    out = sys.stdout
    header = [fmt == "table" and not events]

    def on_alert(_a: Any, ad: dict[str, Any]) -> None:
        if events or stats:
            return
        if fmt == "jsonl":
            out.write(jsonl(ad) + "\n")
        else:
            if header[0]:
                out.write(table_header() + "\n")
                header[0] = False
            out.write(table_row(ad) + "\n")
        out.flush()

    try:
        pipe = Pipeline(cfg, on_alert=on_alert)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    try:
        for f in files:
            items = (read_stream(sys.stdin.buffer, "stdin", input_format, environment) if f == "-"
                     else read_path(f, input_format, environment))
            for it in items:
                pipe.process(it)
                if events and not hasattr(it, "reason"):
                    out.write(orjson.dumps(it.to_dict()).decode() + "\n")  # type: ignore[union-attr]
        pipe.drain(30.0)
    finally:
        pipe.close()
    if stats:
        _print_stats(pipe, fmt)
    summary = (f"auditwatch: {pipe.events} events, {pipe.dead.count} dead letters, "
               f"{len(pipe.alerts)} alerts, {len(pipe.revocations)} revocations")
    if pipe.dead.count:
        where = cfg.dead_letter or "(none: set dead_letter in the config to keep them)"
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(pipe.dead.reasons.items()))
        summary += f"\nauditwatch: dead letters kept in {where} ({reasons})"
    click.echo(summary, err=True)


def _print_stats(pipe: Any, fmt: str) -> None:
    """Per rule: alerts, incidents (first match of a suppression window), identities."""
    per: dict[str, dict[str, Any]] = {}
    for r in pipe.core.rules:
        per[r.id] = {"rule_id": r.id, "severity": r.severity, "alerts": 0, "incidents": 0, "identities": set()}
    for d in pipe.core.anomaly:
        per[d.id] = {"rule_id": d.id, "severity": d.severity, "alerts": 0, "incidents": 0, "identities": set()}
    for a in pipe.alerts:
        row = per.setdefault(a.rule_id, {"rule_id": a.rule_id, "severity": a.severity, "alerts": 0,
                                         "incidents": 0, "identities": set()})
        row["alerts"] += 1
        row["incidents"] += 0 if a.joined else 1
        row["identities"].add(a.identity.id)
    rows = sorted(per.values(), key=lambda r: (-r["alerts"], r["rule_id"]))
    if fmt == "jsonl":
        for r in rows:
            click.echo(orjson.dumps(r | {"identities": len(r["identities"])}).decode())
        return
    click.echo(f"{'RULE':40} {'SEV':8} {'ALERTS':>7} {'INCIDENTS':>9} {'IDENTITIES':>10}")
    for r in rows:
        click.echo(f"{r['rule_id']:40} {r['severity']:8} {r['alerts']:>7} {r['incidents']:>9} {len(r['identities']):>10}")
    click.echo(f"too late (judged as single events): {pipe.core.engine.stats.too_late}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the story.")
@click.option("--live-postgres", is_flag=True,
              help="Against a real throw-away PostgreSQL (needs its server binaries and pgaudit).")
def demo(as_json: bool, live_postgres: bool) -> None:
    """Replay the bundled incident scenario, with a local webhook receiver. No set-up."""
    if live_postgres:
        from auditwatch.demo.live_postgres import render as render_live
        from auditwatch.demo.live_postgres import run_live

        try:
            live = run_live()
        except RuntimeError as e:
            raise click.ClickException(str(e)) from None
        click.echo(orjson.dumps(live).decode() if as_json else render_live(live))
        return
    from auditwatch.demo.run import render, run_demo

    r = run_demo()
    if as_json:
        click.echo(orjson.dumps(r).decode())
    else:
        click.echo(render(r))


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
def run(config: str) -> None:
    """Follow the configured sources and serve POST /ingest and /healthz until stopped."""
    from auditwatch.streams.serve import serve

    cfg = _load(config)
    serve(cfg)


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--loglevel", default="warn", show_default=True, envvar="AUDITWATCH_WORKER_LOGLEVEL", show_envvar=True,
              type=click.Choice(["crit", "error", "warn", "info", "debug"]))
@click.option("--no-respond", is_flag=True, help="Detect only; another worker group runs the responders.")
@click.option("--one-at-a-time", is_flag=True, hidden=True, help="The naive baseline of `bench kafka`.")
def worker(config: str, loglevel: str, no_respond: bool, one_at_a_time: bool) -> None:
    """Run a Faust worker on Kafka: parse, attribute, detect by identity, respond (until SIGTERM)."""
    from auditwatch.streams.scaleout.worker import Worker

    cfg = _load(config)
    try:
        w = Worker(cfg, respond=not no_respond, one_at_a_time=one_at_a_time)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    sys.argv = [sys.argv[0], "worker"]  # Faust's worker reads argv; ours are parsed already
    w.run(loglevel)


def _replay_quiet(cfg: Any, files: tuple[str, ...], input_format: str = "auto",
                  keep: Callable[[Any], None] | None = None) -> Any:
    """Run files through a dry-run pipeline (nothing leaves the process); returns the pipeline."""
    from auditwatch.streams.embedded import Pipeline
    from auditwatch.streams.reader import read_path

    cfg.responders.dry_run = True
    try:
        pipe = Pipeline(cfg)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    try:
        for f in files:
            for it in read_path(f, input_format):
                pipe.process(it)
                if keep is not None and not hasattr(it, "reason"):
                    keep(it)
    finally:
        pipe.close(drain_timeout=0)
    return pipe


@main.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False))
@click.option("--line", "line", type=int, default=None, help="Only the event(s) read from this line.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@click.option("--input-format", default="auto", show_default=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def explain(config: str | None, line: int | None, as_json: bool, input_format: str, file: str) -> None:
    """Why auditwatch decided what it did: each event, who acted (through which chain),
    the kind with its confidence and evidence, and which detectors matched and why."""
    from auditwatch.model import iso
    from auditwatch.responders.console import safe

    cfg = _load(config)
    cfg.store, cfg.dead_letter = ":memory:", ""
    kept: list[Any] = []
    pipe = _replay_quiet(cfg, (file,), input_format, kept.append)
    by_event: dict[str, list[Any]] = {}
    for a in pipe.alerts:
        for e in a.evidence:
            by_event.setdefault(e.event_id, []).append(a)
    for ev in kept:
        if line is not None and ev.source.line != line:
            continue
        i = ev.identity
        chain = list(ev.actor.role_chain)
        for tag in ("on-behalf-of", "impersonated-by"):
            if ev.actor.tags.get(tag):
                chain.append(f"{tag} {ev.actor.tags[tag]}")
        matched = [{"rule_id": a.rule_id, "severity": a.severity, "reason": a.reason, "joined": a.joined,
                    **({"baseline": a.baseline} if a.baseline else {})} for a in by_event.get(ev.event_id, [])]
        doc = {"event": ev.to_dict(), "identity_chain": chain,
               "identity": None if i is None else {"id": i.id, "kind": i.kind, "confidence": round(i.confidence, 2),
                                                   "owner": i.owner, "evidence": list(i.evidence),
                                                   "environments": list(i.environments), "purpose": i.purpose},
               "detectors": matched}
        if as_json:
            click.echo(orjson.dumps(doc).decode())
            continue
        click.echo(safe(f"{ev.source.name}:{ev.source.line}  {iso(ev.time)}  {ev.action.name} "
                        f"[{ev.action.outcome}] {', '.join(ev.action.categories) or '-'}"))
        click.echo(safe(f"  resource  {ev.resource.type} {ev.resource.name} env={ev.resource.environment or '?'}"))
        click.echo(safe(f"  actor     {ev.actor.principal} ({ev.actor.principal_type or '?'}) "
                        f"ua={ev.actor.user_agent or '-'} app={ev.actor.application_name or '-'}"))
        if chain:
            click.echo(safe(f"  chain     {' -> '.join(chain)}"))
        if i is not None:
            click.echo(safe(f"  identity  {i.id}: {i.kind} (confidence {i.confidence:.2f})"
                            + (f", owner {i.owner}" if i.owner else "")))
            for e in i.evidence:
                click.echo(safe(f"    because {e}"))
        for m in matched:
            click.echo(safe(f"  detector  {m['rule_id']} ({m['severity']}{', joined' if m['joined'] else ''}): "
                            f"{m['reason']}"))
        if not matched:
            click.echo("  detector  none matched")
        click.echo("")


@main.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per identity.")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def identities(config: str | None, as_json: bool, files: tuple[str, ...]) -> None:
    """Who is acting in the estate: identities seen, kind, owner, first/last seen, counts by
    category. From FILES if given, else from the store `auditwatch run` keeps."""
    from auditwatch.inventory import Inventory
    from auditwatch.responders.console import safe
    from auditwatch.store import Store

    cfg = _load(config)
    if files:
        cfg.dead_letter = ""
        cfg.store = ":memory:"
        rows = _replay_quiet(cfg, files).inventory.rows()
    else:
        if not config:
            raise click.UsageError("give FILES to read, or --config to read the store of `auditwatch run`")
        try:
            st = Store(cfg.path(cfg.store)).load_state() or {}
        except ConfigError as e:
            raise click.ClickException(str(e)) from None
        inv = Inventory()
        inv.load(st.get("inventory", []))
        rows = inv.rows()
    if as_json:
        for r in rows:
            click.echo(orjson.dumps(r).decode())
        return
    click.echo(f"{'IDENTITY':46} {'KIND':8} {'CONF':>4} {'OWNER':22} {'EVENTS':>6}  {'LAST SEEN':24} DESTRUCTIVE/SENSITIVE")
    for r in rows:
        cats = ", ".join(f"{k} {v}" for k, v in r["categories"].items()) or "-"
        idtxt = r["id"] if len(r["id"]) <= 46 else "…" + r["id"][-45:]
        click.echo(safe(f"{idtxt:46} {r['kind']:8} {r['confidence']:>4.2f} {(r['owner'] or '-')[:22]:22} "
                        f"{r['events']:>6}  {r['last_seen']:24} {cats}"))


@main.command()
@click.option("--config", "config", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--db-role", "db_roles", multiple=True, help="A PostgreSQL role to let log in again.")
@click.option("--aws-access-key", "keys", multiple=True, help="An AWS access key to reactivate.")
@click.option("--aws-principal", "principals", multiple=True, help="An IAM user/role ARN to lift the deny from.")
@click.option("--json", "as_json", is_flag=True)
def restore(config: str, db_roles: tuple[str, ...], keys: tuple[str, ...], principals: tuple[str, ...],
            as_json: bool) -> None:
    """Undo a revocation once people have decided it is safe (the revokers in the config)."""
    cfg = _load(config)
    creds = ([{"type": "db_role", "id": r} for r in db_roles] + [{"type": "aws_access_key", "id": k} for k in keys]
             + [{"type": "aws_principal", "id": p} for p in principals])
    if not creds:
        raise click.UsageError("name at least one credential (--db-role, --aws-access-key, --aws-principal)")
    revokers: list[Any] = []
    try:
        if cfg.responders.postgres is not None:
            from auditwatch.responders.revokers.postgres import PostgresRevoker
            from auditwatch.streams.embedded import _pg_protected

            revokers.append(PostgresRevoker(cfg.responders.postgres.dsn(),
                                            _pg_protected(cfg.responders.postgres.protected_roles)))
        if cfg.responders.aws is not None:
            from auditwatch.responders.revokers.aws_iam import AwsIamRevoker

            a = cfg.responders.aws
            from auditwatch.streams.embedded import _aws_protected

            revokers.append(AwsIamRevoker(endpoint_url=a.endpoint_url or None, region=a.region,
                                          protected_principals=_aws_protected(a.protected_principals)))
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if not revokers:
        raise click.ClickException("no revoker configured (responders.postgres / responders.aws)")
    failed = False
    for rv in revokers:
        for res in rv.restore(rv.own(creds)):
            failed |= not res.ok
            d = res.to_dict()
            click.echo(orjson.dumps(d).decode() if as_json else
                       f"{'ok  ' if res.ok else 'FAIL'} restore {res.credential.label()}: {res.detail}")
        close = getattr(rv, "close", None)
        if close:
            close()
    if failed:
        raise SystemExit(1)


@main.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="YAML with a `guard:` section (agent, owner, scope, credentials, spool, monitor_url).")
def guard(config: str | None) -> None:
    """Pre-tool hook for Claude Code and Cursor: reads the hook event on stdin, answers
    allow / deny / ask in the tool's own format, and records the decision for the monitor."""
    from auditwatch.guard import main as guard_main

    raise SystemExit(guard_main(config, sys.stdin.read()))


@main.command()
def formats() -> None:
    """List the input formats auditwatch reads (for --input-format and sources[].format)."""
    from auditwatch.streams.sources.detect import ALIASES, SOURCES

    for name in sorted(SOURCES):
        aliases = sorted(a for a, n in ALIASES.items() if n == name)
        click.echo(name + (f"  (also: {', '.join(aliases)})" if aliases else ""))


@main.command()
@click.option("--dialect", type=click.Choice(["postgres", "mysql"]), default="postgres", show_default=True)
@click.argument("sql", nargs=-1)
def sql(dialect: str, sql: tuple[str, ...]) -> None:
    """Show what auditwatch makes of SQL (arguments, or stdin): one JSON object per statement."""
    from auditwatch.detectors.sql.classify import classify

    text = " ".join(sql) if sql else sys.stdin.read()
    for v in classify(text, dialect):
        click.echo(orjson.dumps(v.to_dict()).decode())


@main.group()
def rules() -> None:
    """Detection rules: test them on their samples, lint them."""


@rules.command("test")
@click.argument("path", required=False, type=click.Path(exists=True))
def rules_test(path: str | None) -> None:
    """Run every rule's samples (the built-in pack, or the rules under PATH)."""
    from auditwatch.detectors.rules.loader import load_dir
    from auditwatch.detectors.rules.samples import run_samples

    loaded, errors = load_dir(path)
    for e in errors:
        click.echo(f"ERROR {e}", err=True)
    results = run_samples(loaded)
    bad = [r for r in results if not r.ok]
    for r in results:
        mark = "ok  " if r.ok else "FAIL"
        detail = f" ({r.problem})" if r.problem else ("" if r.ok else f" (expected {r.expect}, fired {r.fired})")
        click.echo(f"{mark} {r.rule_id}: {r.name}{detail}" + ("" if r.ok else f"  [{r.file}:{r.line}]"))
    click.echo(f"{len(loaded)} rules, {len(results) - len(bad)} samples passed, {len(bad)} failed, "
               f"{len(errors)} rule files with errors")
    if bad or errors:
        raise SystemExit(1)


@rules.command("lint")
@click.argument("path", required=False, type=click.Path(exists=True))
def rules_lint(path: str | None) -> None:
    """Check rule files; each problem is reported as FILE:LINE: message."""
    from auditwatch.detectors.rules.loader import load_dir

    loaded, errors = load_dir(path)
    for e in errors:
        click.echo(str(e), err=True)
    click.echo(f"{len(loaded)} rules ok, {len(errors)} with errors")
    if errors:
        raise SystemExit(1)


@main.group()
def bench() -> None:
    """Benchmarks that print numbers."""


@bench.command("pipeline")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", "n_events", default=100_000, show_default=True, help="Events to push through.")
def bench_pipeline(as_json: bool, n_events: int) -> None:
    """Embedded pipeline: events/s and ingest->alert latency on a mixed corpus."""
    from auditwatch.bench.pipeline import render, run_bench

    r = run_bench(n_events)
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("sql")
@click.option("--json", "as_json", is_flag=True)
@click.option("--statements", "n", default=50_000, show_default=True)
def bench_sql(as_json: bool, n: int) -> None:
    """SQL analysis: fast path vs sqlparse on every statement, same run, same statements."""
    from auditwatch.bench.sql import render, run_bench

    r = run_bench(n)
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("rules")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", "n", default=200_000, show_default=True)
@click.option("--identities", default=10_000, show_default=True)
def bench_rules(as_json: bool, n: int, identities: int) -> None:
    """Detection: events/s through the rule pack and anomaly detectors; state bytes per idle identity."""
    from auditwatch.bench.rules import render, run_bench

    r = run_bench(n, identities)
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("sources")
@click.option("--json", "as_json", is_flag=True)
def bench_sources(as_json: bool) -> None:
    """Per source: events/s parsed and normalised on one core, on real samples."""
    from auditwatch.bench.sources import render, run_bench

    r = run_bench()
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("identity")
@click.option("--json", "as_json", is_flag=True)
def bench_identity(as_json: bool) -> None:
    """Attribution on the labelled evaluation set: accuracy, per-kind precision/recall, events/s."""
    from auditwatch.bench.identity import render, run_bench

    try:
        r = run_bench()
    except (FileNotFoundError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("soak")
@click.option("--minutes", default=1.0, show_default=True)
@click.option("--rate", default=2000, show_default=True, help="Offered events per second.")
@click.option("--json", "as_json", is_flag=True)
def bench_soak(minutes: float, rate: int, as_json: bool) -> None:
    """The embedded pipeline at a fixed rate with the attack injected every minute; RSS over time."""
    from auditwatch.bench.soak import render, run_soak

    r = run_soak(minutes, rate)
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("kafka")
@click.option("--json", "as_json", is_flag=True)
@click.option("--events", "n_events", default=300_000, show_default=True, help="Events per throughput run.")
@click.option("--latency-seconds", default=30.0, show_default=True, help="How long to offer 5,000 events/s.")
def bench_kafka(as_json: bool, n_events: int, latency_seconds: float) -> None:
    """Faust workers on a real broker: events/s with one and two workers, produce→alert p50/p99 at
    5,000 events/s, and a one-event-at-a-time agent for comparison."""
    from auditwatch.bench.kafka import render, run_bench
    from auditwatch.streams.scaleout.broker import BrokerUnavailable

    try:
        r = run_bench(n_events, latency_seconds=latency_seconds)
    except (BrokerUnavailable, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


@bench.command("guard")
@click.option("--json", "as_json", is_flag=True)
def bench_guard(as_json: bool) -> None:
    """The guard on the labelled agent-command corpus: recall, false denies, decision p99."""
    from auditwatch.bench.guard import render, run_bench

    r = run_bench()
    click.echo(orjson.dumps(r).decode() if as_json else render(r))


def _register_scaleout() -> None:
    from auditwatch.cli_ship import register  # topics, ship: kept apart so kafka-python loads only there

    register(main)


_register_scaleout()

if __name__ == "__main__":  # pragma: no cover
    main()
