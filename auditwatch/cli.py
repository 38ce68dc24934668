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
def demo(as_json: bool) -> None:
    """Replay the bundled incident scenario, with a local webhook receiver. No set-up."""
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


if __name__ == "__main__":  # pragma: no cover
    main()
