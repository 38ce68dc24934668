"""The deployment files, checked against the code they deploy.

Nothing under ``deploy/`` can be started in CI (no Docker engine, no cluster),
so these tests read the files and hold them to the project: every auditwatch
subcommand and option a service or pod runs exists in the click group; every
configuration they mount validates with ``auditwatch.config``; ports, paths,
the broker address, secrets and image tags agree across the compose file, the
Prometheus and Grafana provisioning, the Kubernetes manifests and the
Dockerfile; every file they mount or copy exists.

Each check is a small function returning the problems it found (an empty list
when all is well), so that a test can assert there are none, and the
``test_check_catches_*`` tests can show each check fails on a broken copy.

``promtool`` (CI installs Prometheus) checks the compose Prometheus
configuration. The manifests are not checked against the Kubernetes OpenAPI
schema or the Compose spec: neither tool is on the CI machine, and a check
that only runs somewhere else would be skipped here silently.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import click
import pytest
import yaml

from auditwatch.config import Config, KafkaConfig, load_config
from auditwatch.errors import ConfigError
from tests.conftest import ROOT, need

DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yaml"
K8S_DIR = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DASHBOARDS = ROOT / "dashboards"
SOURCE_DIRS = ("auditwatch", "streams", "detectors", "responders")

# the variable that overrides kafka.bootstrap_servers (auditwatch/config.py)
BOOTSTRAP_ENV = "AUDITWATCH_KAFKA_BOOTSTRAP"
# `*_env` keys resolved when the pipeline starts (streams/embedded.py): a pod
# without them fails, so their secretKeyRef must not be optional
REQUIRED_AT_START = ("responders.webhook.secret_env", "responders.slack.token_env",
                     "responders.pagerduty.routing_key_env", "responders.postgres.dsn_env")
# where a Kubernetes kind lives
K8S_API = {"Namespace": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
           "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
           "Job": "batch/v1", "CronJob": "batch/v1", "PodDisruptionBudget": "policy/v1",
           "NetworkPolicy": "networking.k8s.io/v1", "ServiceAccount": "v1",
           "Kustomization": "kustomize.config.k8s.io/v1beta1"}


# -- loading -------------------------------------------------------------------
def yaml_files(folder: Path) -> list[Path]:
    """The YAML files of a deploy folder (not the log files a user put in compose/logs/)."""
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                  and COMPOSE_DIR / "logs" not in p.parents)


def load_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@functools.cache
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), \
        f"{COMPOSE_FILE}: no `services:` mapping"
    return doc


@functools.cache
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in yaml_files(K8S_DIR) for d in load_docs(p)]


def k8s_objects(kind: str, docs: list[tuple[Path, dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    return [d for _, d in (k8s_docs() if docs is None else docs) if d.get("kind") == kind]


@functools.cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def cli_group() -> click.Group:
    from auditwatch.cli import main

    return main


# -- the CLI -------------------------------------------------------------------
def cli_problems(args: list[str], group: click.Group | None = None, where: str = "") -> list[str]:
    """``args`` as given after ``auditwatch``: the (sub)commands must exist in the
    click group and every ``--option`` must be one the command takes."""
    cmd: click.Command = group or cli_group()
    ctx = click.Context(cmd)
    path = ["auditwatch"]
    rest = list(args)
    while isinstance(cmd, click.Group):
        if not rest or rest[0].startswith("-"):
            return [f"{where}: `{' '.join(path)}` is a command group; no subcommand given in {args}"]
        name = rest.pop(0)
        sub = cmd.get_command(ctx, name)
        if sub is None:
            known = ", ".join(sorted(cmd.list_commands(ctx)))
            return [f"{where}: `{' '.join(path)} {name}`: no such command (the CLI has: {known})"]
        path.append(name)
        cmd, ctx = sub, click.Context(sub, parent=ctx, info_name=name)
    opts = {o for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
    problems = []
    for a in rest:
        if a.startswith("--") and a.split("=", 1)[0] not in opts:
            problems.append(f"{where}: `{' '.join(path)}` has no option {a.split('=', 1)[0]} "
                            f"(it takes {', '.join(sorted(opts)) or 'none'})")
    return problems


def option_value(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


# -- configuration ---------------------------------------------------------------
def config_problems(path: Path, where: str) -> list[str]:
    """The file must load with auditwatch.config.load_config (extra keys are
    errors), its inline identities must be valid registry entries, and every
    path the processes write must be absolute (relative ones resolve next to the
    configuration, which is mounted read-only)."""
    try:
        cfg = load_config(path)
    except ConfigError as e:
        return [f"{where}: the auditwatch configuration does not validate:\n{e}"]
    from auditwatch.streams.identity.registry import load_registry

    try:
        load_registry(None, cfg.identities)
    except ConfigError as e:
        return [f"{where}: identities: {e}"]
    return [f"{where}: {key} = {p!r} must be an absolute path (relative ones resolve in the "
            f"read-only configuration folder)" for key, p in state_paths(cfg).items()
            if p and p != ":memory:" and not PurePosixPath(p).is_absolute()]


def state_paths(cfg: Config) -> dict[str, str]:
    return {"store": cfg.store, "dead_letter": cfg.dead_letter, "kafka.data_dir": cfg.kafka.data_dir,
            "kafka.ship_state": cfg.kafka.ship_state}


def env_keys(node: Any, trail: str = "") -> dict[str, str]:
    """Every ``*_env`` key of a configuration mapping: dotted key -> variable name."""
    out: dict[str, str] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{trail}.{k}" if trail else str(k)
            if isinstance(k, str) and k.endswith("_env") and isinstance(v, str) and v:
                out[key] = v
            else:
                out.update(env_keys(v, key))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(env_keys(v, f"{trail}[{i}]"))
    return out


@functools.cache
def env_vars_read_by_source() -> frozenset[str]:
    """Environment variable names the project's code reads (os.environ / getenv
    with a literal name, or a module constant ``*ENV = "NAME"``)."""
    pats = [re.compile(r"""environ(?:\.get)?\s*[\[(]\s*["']([A-Z][A-Z0-9_]+)["']"""),
            re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]+)["']"""),
            re.compile(r"""^\s*[A-Z_]*ENV\s*(?::[^=]+)?=\s*["']([A-Z][A-Z0-9_]+)["']""", re.MULTILINE)]
    names: set[str] = set()
    for d in SOURCE_DIRS:
        for f in (ROOT / d).rglob("*.py"):
            text = f.read_text()
            for p in pats:
                names.update(p.findall(text))
    return frozenset(names)


def host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.strip().rpartition(":")
    return host, int(port)


def listeners(env: dict[str, str], var: str) -> dict[str, str]:
    """A Kafka listener list (``NAME://host:port,...``) as {name: host:port}."""
    return dict(x.split("://", 1) for x in env.get(var, "").split(",") if "://" in x)


# -- compose -------------------------------------------------------------------
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def expand(value: str, where: str, problems: list[str]) -> str:
    """Compose interpolation with the defaults a fresh checkout gets: ``${X:-d}``
    becomes ``d``; a ``${X}`` without a default cannot be checked."""
    def sub(m: re.Match[str]) -> str:
        if m.group(2) in (":-", "-"):
            return m.group(3)
        problems.append(f"{where}: {m.group(0)} has no default; a fresh checkout cannot resolve it")
        return m.group(0)

    return _ENV_REF.sub(sub, value)


def auditwatch_image(doc: dict[str, Any]) -> str:
    """The image tag the compose file builds from the repository's Dockerfile."""
    tags = {s.get("image") for s in doc["services"].values() if "build" in s}
    assert len(tags) == 1, f"{COMPOSE_FILE}: services built from the Dockerfile name {tags or 'no'} image(s)"
    return str(tags.pop())


def auditwatch_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run the auditwatch image (built here, or the tag built here)."""
    built = {s.get("image") for s in doc["services"].values() if "build" in s}
    return {n: s for n, s in doc["services"].items() if "build" in s or s.get("image") in built}


def as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list) else str(v).split()


def service_env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def mounts(svc: dict[str, Any], base: Path, where: str, problems: list[str]) -> list[dict[str, Any]]:
    """A service's volumes as {type, source (a Path for binds), target, read_only}."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            kind, src, target = v.get("type", "volume"), str(v.get("source", "")), str(v["target"])
            ro = bool(v.get("read_only"))
        else:
            parts = expand(str(v), where, problems).split(":")
            if len(parts) == 1:
                out.append({"type": "volume", "source": "", "target": parts[0], "read_only": False})
                continue
            src, target = parts[0], parts[1]
            ro = len(parts) > 2 and "ro" in parts[2].split(",")
            kind = "bind" if src.startswith((".", "/", "~")) else "volume"
        src = expand(src, where, problems)
        out.append({"type": kind, "source": (base / src).resolve() if kind == "bind" else src,
                    "target": target, "read_only": ro})
    return out


def to_host(container_path: str, ms: list[dict[str, Any]]) -> Path | None:
    """The repository file a container path is bind-mounted from, if any."""
    best = None
    for m in ms:
        t = m["target"].rstrip("/")
        inside = m["type"] == "bind" and (container_path == t or container_path.startswith(t + "/"))
        if inside and (best is None or len(t) > len(best["target"].rstrip("/"))):
            best = m
    if best is None:
        return None
    rel = container_path[len(best["target"].rstrip("/")):].lstrip("/")
    return best["source"] / rel if rel else best["source"]


def mount_of(container_path: str, ms: list[dict[str, Any]]) -> dict[str, Any] | None:
    hits = [m for m in ms
            if container_path == m["target"] or container_path.startswith(m["target"].rstrip("/") + "/")]
    return max(hits, key=lambda m: len(m["target"]), default=None)


def compose_config(name: str, svc: dict[str, Any], base: Path,
                   problems: list[str]) -> tuple[Path, Config] | None:
    """The auditwatch configuration a service runs with (its --config, through its mounts)."""
    where = f"{COMPOSE_FILE.name}: services.{name}"
    cpath = option_value(as_list(svc.get("command")), "--config")
    if cpath is None:
        problems.append(f"{where}: the command has no --config")
        return None
    host = to_host(cpath, mounts(svc, base, where, problems))
    if host is None or not host.is_file():
        problems.append(f"{where}: --config {cpath} is not a file mounted from the repository")
        return None
    try:
        return host, load_config(host)
    except ConfigError as e:
        problems.append(f"{where}: {host.relative_to(ROOT)} does not validate: {e}")
        return None


def container_ports(svc: dict[str, Any]) -> set[int]:
    ports = {int(str(p).split("/")[0]) for p in svc.get("expose") or []}
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def compose_cli_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    for name, svc in auditwatch_services(doc).items():
        where = f"{COMPOSE_FILE.name}: services.{name}"
        entry = as_list(svc.get("entrypoint"))
        if entry and entry != ["auditwatch"]:
            problems.append(f"{where}: entrypoint {entry} is not the auditwatch console script")
        args = as_list(svc.get("command"))
        if not args:
            problems.append(f"{where}: no command: the image would only print --help")
            continue
        problems += cli_problems(args, where=where)
    return problems


def compose_file_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """Every bind mount's source and every build context / Dockerfile exists."""
    problems: list[str] = []
    for name, svc in doc["services"].items():
        where = f"{COMPOSE_FILE.name}: services.{name}"
        for m in mounts(svc, base, where, problems):
            if m["type"] == "bind" and not m["source"].exists():
                problems.append(f"{where}: mounts {m['source']} (-> {m['target']}), which does not exist")
            if m["type"] == "volume" and m["source"] and m["source"] not in (doc.get("volumes") or {}):
                problems.append(f"{where}: named volume {m['source']!r} is not declared under `volumes:`")
        build = svc.get("build")
        if build is not None:
            b = {"context": build} if isinstance(build, str) else build
            ctx = (base / expand(str(b.get("context", ".")), where, problems)).resolve()
            dockerfile = ctx / b.get("dockerfile", "Dockerfile")
            if not ctx.is_dir():
                problems.append(f"{where}: build context {ctx} does not exist")
            elif not dockerfile.is_file():
                problems.append(f"{where}: Dockerfile {dockerfile} does not exist")
            elif dockerfile.resolve() != DOCKERFILE.resolve():
                problems.append(f"{where}: builds {dockerfile}, not the repository's {DOCKERFILE}")
        for dep in (svc.get("depends_on") or []):
            if dep not in doc["services"]:
                problems.append(f"{where}: depends on {dep!r}, which is not a service")
    return problems


def image_problems(doc: dict[str, Any]) -> list[str]:
    """Every image is built from the repository's Dockerfile or pinned to an explicit tag."""
    problems = []
    for name, svc in doc["services"].items():
        image = svc.get("image")
        where = f"{COMPOSE_FILE.name}: services.{name}"
        if image is None:
            if "build" not in svc:
                problems.append(f"{where}: neither image nor build")
            continue
        ref = str(image).split("@", 1)[0]
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else ""
        if "@sha256:" in str(image):
            continue
        if not tag or tag == "latest" or "$" in tag:
            problems.append(f"{where}: image {image!r} is not pinned to an explicit tag")
    return problems


def kafka_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """What the auditwatch services use as the broker address is a compose
    service that advertises exactly that address on a listener it binds, and the
    port is KafkaConfig's default port."""
    problems: list[str] = []
    default_port = host_port(KafkaConfig().bootstrap_servers)[1]
    for name, svc in auditwatch_services(doc).items():
        where = f"{COMPOSE_FILE.name}: services.{name}"
        got = compose_config(name, svc, base, problems)
        if got is None:
            continue
        _, cfg = got
        addrs = {"kafka.bootstrap_servers": cfg.kafka.bootstrap_servers}
        if BOOTSTRAP_ENV in service_env(svc):
            addrs[BOOTSTRAP_ENV] = service_env(svc)[BOOTSTRAP_ENV]
        for label, value in addrs.items():
            for addr in value.split(","):
                host, port = host_port(addr)
                broker = doc["services"].get(host)
                if broker is None:
                    problems.append(f"{where}: {label} names {host!r}, which is not a service")
                    continue
                if port != default_port:
                    problems.append(f"{where}: {label} port {port} differs from KafkaConfig's "
                                    f"default {default_port}")
                env = service_env(broker)
                advertised = {a: name for name, a in listeners(env, "KAFKA_ADVERTISED_LISTENERS").items()}
                listener = advertised.get(f"{host}:{port}")
                if listener is None:
                    problems.append(f"{where}: {label} = {addr}, but services.{host} advertises "
                                    f"{env.get('KAFKA_ADVERTISED_LISTENERS')!r}: clients would be sent elsewhere")
                    continue
                bound = listeners(env, "KAFKA_LISTENERS")
                if listener not in bound or host_port(bound[listener])[1] != port:
                    problems.append(f"{where}: services.{host} advertises {listener}://{host}:{port} "
                                    f"but KAFKA_LISTENERS binds {listener} as {bound.get(listener)!r}")
    return problems


def kraft_problems(doc: dict[str, Any]) -> list[str]:
    """A KRaft broker service: roles, controller listener and quorum voters agree."""
    problems = []
    for name, svc in doc["services"].items():
        env = service_env(svc)
        if "KAFKA_PROCESS_ROLES" not in env:
            continue
        where = f"{COMPOSE_FILE.name}: services.{name}"
        if "controller" not in env["KAFKA_PROCESS_ROLES"]:
            continue
        bound = listeners(env, "KAFKA_LISTENERS")
        protos = dict(x.split(":", 1) for x in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if x)
        for lname in bound:
            if lname not in protos:
                problems.append(f"{where}: listener {lname} has no KAFKA_LISTENER_SECURITY_PROTOCOL_MAP entry")
        ctrl = env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
        if ctrl not in bound:
            problems.append(f"{where}: controller listener {ctrl!r} is not in KAFKA_LISTENERS")
            continue
        for voter in env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","):
            node, _, addr = voter.partition("@")
            vhost, vport = host_port(addr)
            if node != str(env.get("KAFKA_NODE_ID")) or vhost not in (name, svc.get("hostname")) \
                    or vport != host_port(bound[ctrl])[1]:
                problems.append(f"{where}: quorum voter {voter!r} is not this node's {ctrl} listener "
                                f"(node {env.get('KAFKA_NODE_ID')}, {bound[ctrl]})")
    return problems


def worker_port_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """The workers' /healthz and /metrics port: the config's kafka.web_port, which
    is KafkaConfig's default; exposed; the healthcheck asks it; reachable from
    other containers."""
    problems: list[str] = []
    default = KafkaConfig().web_port
    workers = {n: s for n, s in auditwatch_services(doc).items() if as_list(s.get("command"))[:1] == ["worker"]}
    if not workers:
        problems.append(f"{COMPOSE_FILE.name}: no service runs `auditwatch worker`")
    for name, svc in workers.items():
        where = f"{COMPOSE_FILE.name}: services.{name}"
        got = compose_config(name, svc, base, problems)
        if got is None:
            continue
        port = got[1].kafka.web_port
        if port != default:
            problems.append(f"{where}: kafka.web_port {port} differs from KafkaConfig's default {default}")
        if got[1].kafka.web_host in ("127.0.0.1", "localhost", "::1"):
            problems.append(f"{where}: kafka.web_host {got[1].kafka.web_host} cannot be scraped "
                            f"from another container")
        if port not in container_ports(svc):
            problems.append(f"{where}: does not expose kafka.web_port {port} "
                            f"(exposes {sorted(container_ports(svc))})")
        check = " ".join(as_list((svc.get("healthcheck") or {}).get("test")))
        m = re.search(r"https?://[^/:'\"]+:(\d+)(/[^'\" ]*)", check)
        if not m:
            problems.append(f"{where}: no healthcheck asking http://...:{port}/healthz")
        elif (int(m.group(1)), m.group(2)) != (port, "/healthz"):
            problems.append(f"{where}: healthcheck asks :{m.group(1)}{m.group(2)}, not :{port}/healthz")
    return problems


def ship_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """The shipper sees every configured source through a read-only mount, and its
    offsets file is on a named volume (it must survive a re-created container)."""
    problems: list[str] = []
    shippers = {n: s for n, s in auditwatch_services(doc).items() if as_list(s.get("command"))[:1] == ["ship"]}
    if not shippers:
        problems.append(f"{COMPOSE_FILE.name}: no service runs `auditwatch ship`")
    for name, svc in shippers.items():
        where = f"{COMPOSE_FILE.name}: services.{name}"
        got = compose_config(name, svc, base, problems)
        if got is None:
            continue
        cfg = got[1]
        ms = mounts(svc, base, where, problems)
        if not cfg.sources:
            problems.append(f"{where}: the configuration has no `sources:` to ship")
        for s in cfg.sources:
            m = mount_of(s.path, ms)
            if m is None or m["type"] != "bind":
                problems.append(f"{where}: source {s.path} is not inside a folder mounted from the host")
            elif not m["read_only"]:
                problems.append(f"{where}: the log folder {m['target']} should be mounted read-only")
        m = mount_of(cfg.kafka.ship_state, ms)
        if m is None or m["type"] != "volume":
            problems.append(f"{where}: kafka.ship_state {cfg.kafka.ship_state} is not on a named volume: "
                            f"a re-created container would re-ship everything")
    return problems


def prometheus_service(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    hits = [(n, s) for n, s in doc["services"].items() if str(s.get("image", "")).startswith("prom/prometheus")]
    assert len(hits) == 1, \
        f"{COMPOSE_FILE.name}: expected one prom/prometheus service, found {[n for n, _ in hits]}"
    return hits[0]


def flag(args: list[str], name: str, default: str) -> str:
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return default


def prometheus_config(doc: dict[str, Any], base: Path,
                      problems: list[str]) -> tuple[Path, dict[str, Any], list[dict[str, Any]]] | None:
    """Prometheus' configuration file in the repository, parsed (its rule files as the
    repository files mounted there), and the service's mounts."""
    name, svc = prometheus_service(doc)
    where = f"{COMPOSE_FILE.name}: services.{name}"
    ms = mounts(svc, base, where, problems)
    cpath = flag(as_list(svc.get("command")), "config.file", "/etc/prometheus/prometheus.yml")
    host = to_host(cpath, ms)
    if host is None or not host.is_file():
        problems.append(f"{where}: --config.file {cpath} is not mounted from the repository")
        return None
    prom = yaml.safe_load(host.read_text())
    # rule files: relative ones are read next to the configuration, in the container
    prom["rule_files"] = [to_host(str(PurePosixPath(cpath).parent / rf), ms) or rf
                          for rf in prom.get("rule_files") or []]
    return host, prom, ms


def prometheus_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """Scrape targets name a compose service and a port it listens on (for a
    worker: its kafka.web_port); rule files are mounted from the repository;
    job names are what the alert rules select (``job=~"auditwatch.*"``)."""
    problems: list[str] = []
    got = prometheus_config(doc, base, problems)
    if got is None:
        return problems
    host, prom, _ = got
    where = f"{host.relative_to(ROOT)}"
    for rf in prom["rule_files"]:
        if not isinstance(rf, Path) or not rf.is_file():
            problems.append(f"{where}: rule file {rf} is not mounted from the repository")
    services = doc["services"]
    for job in prom.get("scrape_configs") or []:
        jwhere = f"{where}: job {job.get('job_name')}"
        if not str(job.get("job_name", "")).startswith("auditwatch"):
            problems.append(f"{jwhere}: the alert rules select job=~\"auditwatch.*\"")
        targets: list[tuple[str, int]] = []
        for sd in job.get("dns_sd_configs") or []:
            targets += [(n, int(sd["port"])) for n in sd.get("names", [])]
        for sc in job.get("static_configs") or []:
            targets += [host_port(t) for t in sc.get("targets", [])]
        if not targets:
            problems.append(f"{jwhere}: no targets (dns_sd_configs or static_configs)")
        for tname, port in targets:
            svc = services.get(tname)
            if svc is None:
                problems.append(f"{jwhere}: target {tname}:{port}: no service {tname!r} in {COMPOSE_FILE.name}")
                continue
            if port not in container_ports(svc):
                problems.append(f"{jwhere}: target {tname}:{port}: services.{tname} does not expose {port} "
                                f"({sorted(container_ports(svc))})")
            if tname in auditwatch_services(doc):
                cfg = compose_config(tname, svc, base, problems)
                if cfg and cfg[1].kafka.web_port != port:
                    problems.append(f"{jwhere}: scrapes {tname}:{port}, but its kafka.web_port "
                                    f"is {cfg[1].kafka.web_port}")
                if job.get("metrics_path", "/metrics") != "/metrics":
                    problems.append(f"{jwhere}: the workers serve /metrics, not {job.get('metrics_path')}")
    return problems


def grafana_problems(doc: dict[str, Any], base: Path) -> list[str]:
    """Provisioning files are mounted from dashboards/provisioning/; the dashboards
    provider's folder is mounted from dashboards/ and holds every dashboard; the
    data source URL names the Prometheus service and its port."""
    problems: list[str] = []
    hits = [(n, s) for n, s in doc["services"].items() if str(s.get("image", "")).startswith("grafana/grafana")]
    if len(hits) != 1:
        return [f"{COMPOSE_FILE.name}: expected one grafana/grafana service, found {[n for n, _ in hits]}"]
    name, svc = hits[0]
    where = f"{COMPOSE_FILE.name}: services.{name}"
    ms = mounts(svc, base, where, problems)
    prov = [m for m in ms if m["target"].startswith("/etc/grafana/provisioning/")]
    kinds = {PurePosixPath(m["target"]).relative_to("/etc/grafana/provisioning").parts[0] for m in prov}
    if not {"dashboards", "datasources"} <= kinds:
        problems.append(f"{where}: provisioning mounted for {sorted(kinds)}; need dashboards and datasources")
    want = {p.name for p in DASHBOARDS.glob("*.json")}
    env = service_env(svc)
    for m in prov:
        src: Path = m["source"]
        if not src.exists():
            problems.append(f"{where}: {src} does not exist")
            continue
        if DASHBOARDS.resolve() not in (src.resolve(), *src.resolve().parents):
            problems.append(f"{where}: provisioning {src} is not from {DASHBOARDS}")
        files = [src] if src.is_file() else sorted(src.glob("*.y*ml"))
        for f in files:
            prov_doc = yaml.safe_load(f.read_text()) or {}
            for p in prov_doc.get("providers") or []:
                path = (p.get("options") or {}).get("path", "")
                hp = to_host(path, ms)
                have = {x.name for x in hp.rglob("*.json")} if hp and hp.is_dir() else set()
                if not want <= have:
                    problems.append(f"{where}: provider {p.get('name')!r} reads {path}, which holds "
                                    f"{sorted(have)} from the repository, not all of {sorted(want)}")
            for ds in prov_doc.get("datasources") or []:
                url = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda mm: env.get(mm.group(1), mm.group(0)),
                             str(ds.get("url", "")))
                m2 = re.match(r"https?://([^/:]+):(\d+)", url)
                if m2 is None:
                    problems.append(f"{where}: data source {ds.get('name')!r} url {ds.get('url')!r} "
                                    f"resolves to {url!r} (set its variable in environment:)")
                    continue
                pname, psvc = prometheus_service(doc)
                listen = int(flag(as_list(psvc.get("command")), "web.listen-address", ":9090").rsplit(":", 1)[1])
                if (m2.group(1), int(m2.group(2))) != (pname, listen):
                    problems.append(f"{where}: data source url {url} is not services.{pname} on :{listen}")
    return problems


# -- Kubernetes -------------------------------------------------------------------
def configmap_config(docs: list[tuple[Path, dict[str, Any]]], tmp: Path,
                     deployment: dict[str, Any] | None = None) -> tuple[str, Path, dict[str, Any]]:
    """The auditwatch configuration that ``obj``'s (default: the first Deployment's)
    --config reads: (container path, a copy on disk, the parsed mapping)."""
    dep = deployment or k8s_objects("Deployment", docs)[0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    cpath = option_value(c.get("args") or c.get("command") or [], "--config")
    assert cpath, f"{dep['kind']} {dep['metadata']['name']}: no --config in args"
    for vm in c.get("volumeMounts") or []:
        mp = vm["mountPath"].rstrip("/")
        if cpath.startswith(mp + "/") or (vm.get("subPath") and cpath == mp):
            vol = next((v for v in pod.get("volumes") or [] if v["name"] == vm["name"]), None)
            assert vol and "configMap" in vol, f"--config {cpath} is mounted from {vol}, not a ConfigMap"
            key = vm.get("subPath") or cpath[len(mp) + 1:]
            for item in vol["configMap"].get("items") or []:
                if item["path"] == key:
                    key = item["key"]
            cm = next((d for d in k8s_objects("ConfigMap", docs)
                       if d["metadata"]["name"] == vol["configMap"]["name"]), None)
            assert cm is not None, f"ConfigMap {vol['configMap']['name']} (mounted at {mp}) is not in {K8S_DIR}"
            keys = sorted(cm.get("data") or {})
            assert key in keys, f"--config {cpath}: ConfigMap {cm['metadata']['name']} has no key {key!r} ({keys})"
            f = tmp / key
            f.write_text(cm["data"][key])
            return cpath, f, yaml.safe_load(cm["data"][key]) or {}
    raise AssertionError(f"{dep['kind']} {dep['metadata']['name']}: --config {cpath} is not under "
                         f"any volumeMount of container {c['name']}")


def pod_specs(docs: list[tuple[Path, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        obj = d[1]
        kind = obj.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{kind} {obj['metadata']['name']}", obj["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield f"{kind} {obj['metadata']['name']}", obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def k8s_shape_problems(docs: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    problems = []
    for path, d in docs:
        where = f"{path.relative_to(ROOT)}"
        if not isinstance(d, dict):
            problems.append(f"{where}: a document is not a mapping")
            continue
        kind = d.get("kind")
        if kind not in K8S_API:
            problems.append(f"{where}: unexpected kind {kind!r}")
            continue
        if d.get("apiVersion") != K8S_API[kind]:
            problems.append(f"{where}: {kind} is apiVersion {K8S_API[kind]}, not {d.get('apiVersion')}")
        if kind == "Kustomization":
            continue
        if not (d.get("metadata") or {}).get("name"):
            problems.append(f"{where}: {kind} without metadata.name")
        body = {"ConfigMap": "data", "Secret": ("data", "stringData"), "Namespace": None}.get(kind, "spec")
        if body and not any(k in d for k in ((body,) if isinstance(body, str) else body)):
            problems.append(f"{where}: {kind} without {body}")
    for name, pod in pod_specs(docs):
        if not pod.get("containers"):
            problems.append(f"{name}: no containers")
    for d in k8s_objects("Deployment", docs) + k8s_objects("PodDisruptionBudget", docs):
        sel = d["spec"].get("selector", {}).get("matchLabels", {})
        labels = (d["spec"].get("template") or {}).get("metadata", {}).get("labels")
        if labels is not None and not sel.items() <= labels.items():
            problems.append(f"{d['kind']} {d['metadata']['name']}: selector {sel} does not match "
                            f"its pod labels {labels}")
    return problems


def container_env(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in c.get("env") or []}


def k8s_env_problems(docs: list[tuple[Path, dict[str, Any]]], cfg: dict[str, Any]) -> list[str]:
    """Every variable a pod sets is one the project reads; every secretKeyRef is a
    ``*_env`` of the configuration and a key of the example Secret; every
    ``*_env`` of the configuration is provided to the worker, and those read at
    start are not optional."""
    problems = []
    named = env_keys(cfg)
    known = {BOOTSTRAP_ENV} | set(named.values()) | env_vars_read_by_source()
    secrets = {s["metadata"]["name"]: {**(s.get("data") or {}), **(s.get("stringData") or {})}
               for s in k8s_objects("Secret", docs)}
    for name, pod in pod_specs(docs):
        for c in pod["containers"]:
            for var, e in container_env(c).items():
                where = f"{name}: container {c['name']}: env {var}"
                if var not in known:
                    problems.append(f"{where}: nothing in the project reads it (not {BOOTSTRAP_ENV}, not a *_env "
                                    f"of the ConfigMap's configuration, not read in {', '.join(SOURCE_DIRS)})")
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref is None:
                    continue
                if var not in named.values():
                    problems.append(f"{where}: a secret that no *_env key of the configuration names")
                if ref["name"] not in secrets:
                    problems.append(f"{where}: Secret {ref['name']!r} has no example in {K8S_DIR.name}/")
                elif ref["key"] not in secrets[ref["name"]]:
                    problems.append(f"{where}: Secret {ref['name']} example has no key {ref['key']!r}")
    for dep in k8s_objects("Deployment", docs):
        env = container_env(dep["spec"]["template"]["spec"]["containers"][0])
        for key, var in named.items():
            where = f"Deployment {dep['metadata']['name']}: {key}: {var}"
            if var not in env:
                problems.append(f"{where} is not set: the worker cannot resolve it")
                continue
            ref = (env[var].get("valueFrom") or {}).get("secretKeyRef") or {}
            if key in REQUIRED_AT_START and ref.get("optional"):
                problems.append(f"{where} is read when the worker starts; its secretKeyRef must not be optional")
    return problems


def resolve_port(c: dict[str, Any], port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    for p in c.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return int(port) if str(port).isdigit() else None


def k8s_worker_problems(docs: list[tuple[Path, dict[str, Any]]], cfg: Config, cpath: str) -> list[str]:
    """The worker pod: subcommand exists, --config is the mounted ConfigMap, probes
    ask /healthz on kafka.web_port, non-root and read-only with every state path
    on a writable volume, and the Service and PDB select it."""
    problems: list[str] = []
    port = cfg.kafka.web_port
    if port != KafkaConfig().web_port:
        problems.append(f"ConfigMap: kafka.web_port {port} differs from KafkaConfig's default "
                        f"{KafkaConfig().web_port}")
    for name, pod in pod_specs(docs):
        for c in pod["containers"]:
            args = [*(c.get("command") or []), *(c.get("args") or [])]
            if args[:1] == ["auditwatch"]:
                args = args[1:]
            problems += cli_problems(args, where=f"{name}: container {c['name']}")
            got = option_value(args, "--config")
            if got != cpath:
                problems.append(f"{name}: --config {got} is not the ConfigMap's {cpath}")
            sc = {**(pod.get("securityContext") or {}), **(c.get("securityContext") or {})}
            if not sc.get("runAsNonRoot") or sc.get("runAsUser") == 0:
                problems.append(f"{name}: must run as non-root (runAsNonRoot: true)")
            if sc.get("runAsUser") not in (None, dockerfile_uid()):
                problems.append(f"{name}: runAsUser {sc.get('runAsUser')} is not the image's user "
                                f"{dockerfile_uid()}")
            if not sc.get("readOnlyRootFilesystem"):
                problems.append(f"{name}: readOnlyRootFilesystem should be true")
            if sc.get("allowPrivilegeEscalation", True):
                problems.append(f"{name}: allowPrivilegeEscalation should be false")
            if not (c.get("resources") or {}).get("requests"):
                problems.append(f"{name}: no resource requests")
    for dep in k8s_objects("Deployment", docs):
        pod = dep["spec"]["template"]["spec"]
        c = pod["containers"][0]
        name = f"Deployment {dep['metadata']['name']}"
        cports = {int(p["containerPort"]) for p in c.get("ports") or []}
        if port not in cports:
            problems.append(f"{name}: no containerPort {port} (kafka.web_port); has {sorted(cports)}")
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                problems.append(f"{name}: no {probe}")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            hg = (c.get(probe) or {}).get("httpGet")
            if probe in c and hg is None:
                problems.append(f"{name}: {probe} is not an httpGet on /healthz")
            elif hg is not None and (hg.get("path"), resolve_port(c, hg.get("port", 0))) != ("/healthz", port):
                problems.append(f"{name}: {probe} asks {hg.get('path')} on port {hg.get('port')}, "
                                f"not /healthz on {port} (kafka.web_port)")
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        scratch = ("emptyDir", "persistentVolumeClaim", "ephemeral")
        writable = [vm["mountPath"].rstrip("/") for vm in c.get("volumeMounts") or []
                    if not vm.get("readOnly") and any(k in volumes.get(vm["name"], {}) for k in scratch)]
        for key, p in state_paths(cfg).items():
            if key == "kafka.ship_state" or not p or p == ":memory:":
                continue
            if not any(p == w or p.startswith(w + "/") for w in writable):
                problems.append(f"{name}: {key} {p} is not on a writable volume (the root file system is read-only; "
                                f"writable: {writable})")
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for svc in k8s_objects("Service", docs):
            if svc["spec"].get("selector", {}).items() <= labels.items():
                for sp in svc["spec"]["ports"]:
                    if resolve_port(c, sp.get("targetPort", sp["port"])) not in cports:
                        problems.append(f"Service {svc['metadata']['name']}: targetPort {sp.get('targetPort')} "
                                        f"is no port of {name}")
        if not any(s["spec"].get("selector", {}).items() <= labels.items() for s in k8s_objects("Service", docs)):
            problems.append(f"{name}: no Service selects its pods (metrics on {port})")
    return problems


# -- the Dockerfile -----------------------------------------------------------------
def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    out, buf = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


@functools.cache
def dockerfile_uid() -> int | None:
    users = [rest for word, rest in dockerfile_instructions(DOCKERFILE.read_text()) if word == "USER"]
    u = users[-1].split(":")[0] if users else ""
    return int(u) if u.isdigit() else None


def dockerignore_patterns(text: str) -> list[tuple[re.Pattern[str], bool]]:
    pats = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        neg = s.startswith("!")
        s = s.lstrip("!").strip().strip("/")
        rx = ""
        i = 0
        while i < len(s):
            if s.startswith("**/", i):
                rx += "(?:.*/)?"
                i += 3
            elif s.startswith("**", i):
                rx += ".*"
                i += 2
            elif s[i] == "*":
                rx += "[^/]*"
                i += 1
            elif s[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(s[i])
                i += 1
        pats.append((re.compile(rx + r"\Z"), neg))
    return pats


def ignored(rel: str, pats: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Docker's rule: the last matching pattern wins; a path is out if it or a
    folder above it matches."""
    parts = PurePosixPath(rel).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    out = False
    for rx, neg in pats:
        if any(rx.match(c) for c in candidates):
            out = not neg
    return out


def dockerfile_problems(text: str, ignore_text: str) -> list[str]:
    """COPY sources exist and are in the build context; the project is installed
    with pip from the copied sources (every mapped package folder and the readme
    copied); non-root; ENTRYPOINT is the console script; the base is python:3.11-slim."""
    problems = []
    ins = dockerfile_instructions(text)
    pats = dockerignore_patterns(ignore_text)
    args = {}
    for word, rest in ins:
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k.strip()] = v.strip()
    copied: set[str] = set()
    for word, rest in ins:
        if word not in ("COPY", "ADD"):
            continue
        parts = rest.split()
        if any(p.startswith("--from") for p in parts):
            continue
        srcs = [p for p in parts if not p.startswith("--")][:-1]
        for src in srcs:
            rel = src.rstrip("/")
            copied.add(rel)
            if not (ROOT / rel).exists():
                problems.append(f"Dockerfile: COPY {src}: no such file in the repository")
            elif ignored(rel, pats):
                problems.append(f"Dockerfile: COPY {src}: excluded from the build context by .dockerignore")
            elif (ROOT / rel).is_dir():
                for f in (ROOT / rel).rglob("*"):
                    r = f.relative_to(ROOT).as_posix()
                    if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc" and ignored(r, pats):
                        problems.append(f"Dockerfile: {r} (under COPY {src}) is excluded by .dockerignore")
    project = pyproject()
    need_files = {"pyproject.toml", project["project"].get("readme", "README.md"),
                  *project["tool"]["setuptools"]["package-dir"].values()}
    for f in sorted(need_files - copied):
        problems.append(f"Dockerfile: `pip install .` needs {f}, which is not copied into the image")
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    if not re.search(r"pip3? install(?: [^&;|]*)? \.(?=\s|$|;|&)", runs):
        problems.append("Dockerfile: no `pip install .` of the project")
    entry = [rest for word, rest in ins if word == "ENTRYPOINT"]
    scripts = project["project"].get("scripts", {})
    if not entry:
        problems.append("Dockerfile: no ENTRYPOINT")
    else:
        try:
            ep = json.loads(entry[-1])
        except json.JSONDecodeError:
            ep = None
        if not isinstance(ep, list) or len(ep) != 1 or ep[0] not in scripts:
            problems.append(f"Dockerfile: ENTRYPOINT {entry[-1]} is not the console script "
                            f"(exec form) of [project.scripts]: {sorted(scripts)}")
    users = [rest for word, rest in ins if word == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: the image must end with a non-root USER")
    froms = [rest.split()[0] for word, rest in ins if word == "FROM"]
    final = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), froms[-1]) if froms else ""
    if final != "python:3.11-slim":
        problems.append(f"Dockerfile: the final stage is FROM {final or 'nothing'}, not python:3.11-slim")
    return problems


# == the tests ========================================================================
@pytest.mark.parametrize("path", yaml_files(COMPOSE_DIR) + yaml_files(K8S_DIR),
                         ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    try:
        docs = load_docs(path)
    except yaml.YAMLError as e:
        pytest.fail(f"{path.relative_to(ROOT)} is not valid YAML: {e}")
    assert docs, f"{path.relative_to(ROOT)} is empty"


def test_deploy_folders_have_what_the_docs_promise() -> None:
    assert COMPOSE_FILE.is_file(), COMPOSE_FILE
    kinds = {d.get("kind") for _, d in k8s_docs()}
    want = {"ConfigMap", "Deployment", "Service", "Job", "Secret"}
    assert want <= kinds, f"{K8S_DIR}: missing {sorted(want - kinds)}"


# -- compose --
def test_compose_commands_exist_in_the_cli() -> None:
    problems = compose_cli_problems(compose())
    assert not problems, "\n".join(problems)


def test_compose_mounted_and_built_files_exist() -> None:
    problems = compose_file_problems(compose(), COMPOSE_DIR)
    assert not problems, "\n".join(problems)


def test_compose_auditwatch_configuration_validates() -> None:
    problems: list[str] = []
    seen = set()
    for name, svc in auditwatch_services(compose()).items():
        got = compose_config(name, svc, COMPOSE_DIR, problems)
        if got is not None and got[0] not in seen:
            seen.add(got[0])
            problems += config_problems(got[0], f"{got[0].relative_to(ROOT)} (services.{name})")
    assert seen or problems, "no auditwatch service mounts a configuration"
    assert not problems, "\n".join(problems)


def test_compose_kafka_address_and_listeners_agree() -> None:
    problems = kafka_problems(compose(), COMPOSE_DIR) + kraft_problems(compose())
    assert not problems, "\n".join(problems)


def test_compose_worker_port_is_kafka_web_port() -> None:
    problems = worker_port_problems(compose(), COMPOSE_DIR)
    assert not problems, "\n".join(problems)


def test_compose_worker_replicas() -> None:
    doc = compose()
    workers = [s for s in auditwatch_services(doc).values() if as_list(s.get("command"))[:1] == ["worker"]]
    n = sum(int((s.get("deploy") or {}).get("replicas", 1)) for s in workers)
    assert n >= 2, f"{COMPOSE_FILE.name}: {n} worker replica(s); the scale-out stack runs two"
    for s in workers:
        assert "container_name" not in s, "container_name would stop compose from running replicas"


def test_compose_shipper_sees_its_sources_and_keeps_its_state() -> None:
    problems = ship_problems(compose(), COMPOSE_DIR)
    assert not problems, "\n".join(problems)


def test_compose_prometheus_targets_exist() -> None:
    problems = prometheus_problems(compose(), COMPOSE_DIR)
    assert not problems, "\n".join(problems)


def test_compose_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    need(promtool, "promtool is not installed (Debian: apt-get install prometheus)")
    problems: list[str] = []
    got = prometheus_config(compose(), COMPOSE_DIR, problems)
    assert got is not None, "\n".join(problems)
    host, prom, _ = got
    # the same file with the container paths of its rule files turned into the
    # repository files mounted there
    prom = copy.deepcopy(prom)
    prom["rule_files"] = [str(rf) for rf in prom["rule_files"]]
    (tmp_path / "prometheus.yaml").write_text(yaml.safe_dump(prom))
    r = subprocess.run([str(promtool), "check", "config", str(tmp_path / "prometheus.yaml")],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool check config {host.relative_to(ROOT)}:\n{r.stdout}{r.stderr}"


def test_compose_grafana_provisioning_points_at_the_dashboards() -> None:
    problems = grafana_problems(compose(), COMPOSE_DIR)
    assert not problems, "\n".join(problems)


def test_compose_images_are_built_here_or_pinned() -> None:
    problems = image_problems(compose())
    assert not problems, "\n".join(problems)


# -- Kubernetes --
def test_k8s_manifests_have_valid_shapes() -> None:
    problems = k8s_shape_problems(k8s_docs())
    assert not problems, "\n".join(problems)


def test_k8s_kustomization_lists_every_manifest() -> None:
    kust = [(p, d) for p, d in k8s_docs() if d.get("kind") == "Kustomization"]
    if not kust:
        pytest.skip("no kustomization.yaml")
    path, k = kust[0]
    listed = set(k.get("resources") or [])
    for r in listed:
        assert (path.parent / r).is_file(), f"{path.relative_to(ROOT)}: resource {r} does not exist"
    files = {p.name for p in yaml_files(K8S_DIR) if p != path and ".example." not in p.name}
    assert files <= listed, f"{path.relative_to(ROOT)}: does not list {sorted(files - listed)}"


def test_k8s_configmap_configuration_validates(tmp_path: Path) -> None:
    _, f, _ = configmap_config(k8s_docs(), tmp_path)
    problems = config_problems(f, "ConfigMap auditwatch.yaml")
    assert not problems, "\n".join(problems)


def test_k8s_env_vars_and_secrets_are_the_projects(tmp_path: Path) -> None:
    _, _, cfg = configmap_config(k8s_docs(), tmp_path)
    problems = k8s_env_problems(k8s_docs(), cfg)
    assert not problems, "\n".join(problems)


def test_k8s_worker_args_probes_mounts_and_security(tmp_path: Path) -> None:
    cpath, f, _ = configmap_config(k8s_docs(), tmp_path)
    problems = k8s_worker_problems(k8s_docs(), load_config(f), cpath)
    assert not problems, "\n".join(problems)


def test_k8s_every_pod_mounts_the_configuration_it_names(tmp_path: Path) -> None:
    pods = k8s_objects("Deployment") + k8s_objects("Job")
    assert pods, f"{K8S_DIR}: no Deployment or Job"
    for obj in pods:
        d = tmp_path / obj["metadata"]["name"]
        d.mkdir()
        configmap_config(k8s_docs(), d, obj)  # asserts with the reason when it is not


def test_k8s_worker_replicas_and_bootstrap() -> None:
    deps = k8s_objects("Deployment")
    assert deps and deps[0]["spec"].get("replicas", 1) >= 2, "the worker Deployment runs two replicas"
    values = {name: container_env(c)[BOOTSTRAP_ENV].get("value") for name, pod in pod_specs(k8s_docs())
              for c in pod["containers"] if BOOTSTRAP_ENV in container_env(c)}
    assert len(set(values.values())) == 1, f"{BOOTSTRAP_ENV} differs between pods: {values}"
    assert any(n.startswith("Job") for n in values), f"the topics Job must reach the same broker: {values}"


def test_k8s_images_are_the_image_compose_builds() -> None:
    built = auditwatch_image(compose())
    for name, pod in pod_specs(k8s_docs()):
        for c in pod["containers"]:
            assert c["image"] == built, \
                f"{name}: image {c['image']} is not {built} (built from deploy/Dockerfile)"


# -- Dockerfile --
def test_dockerfile_copies_installs_and_runs_the_console_script() -> None:
    ignore = DOCKERIGNORE.read_text() if DOCKERIGNORE.exists() else ""
    problems = dockerfile_problems(DOCKERFILE.read_text(), ignore)
    assert not problems, "\n".join(problems)


# == the checks fail when they should ====================================================
def test_check_catches_unknown_subcommand_and_option() -> None:
    assert cli_problems(["wrker", "--config", "x"])
    assert cli_problems(["replay", "--no-such-option"])
    assert cli_problems(["rules"])  # a group with no subcommand
    assert not cli_problems(["rules", "test"])
    assert not cli_problems(["run", "--config", "/etc/auditwatch/auditwatch.yaml"])


def test_check_catches_broken_compose(tmp_path: Path) -> None:
    doc = copy.deepcopy(compose())
    svcs = doc["services"]
    worker = next(n for n, s in auditwatch_services(doc).items() if as_list(s.get("command"))[:1] == ["worker"])
    svcs[worker]["command"] = ["wroker", "--config", "/etc/auditwatch/auditwatch.yaml"]
    assert compose_cli_problems(doc)
    svcs[worker]["volumes"] = ["./no-such-file.yaml:/etc/auditwatch/auditwatch.yaml:ro"]
    assert compose_file_problems(doc, COMPOSE_DIR)
    pname, _ = prometheus_service(doc)
    svcs[pname]["image"] = "prom/prometheus:latest"
    assert image_problems(doc)
    # a configuration with a misspelt key, a wrong port, a broker nobody advertises
    bad = yaml.safe_load((COMPOSE_DIR / "auditwatch.yaml").read_text())
    bad["kafka"]["web_prot"] = 6066
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert config_problems(tmp_path / "bad.yaml", "bad")
    del bad["kafka"]["web_prot"]
    bad["kafka"]["web_port"] = 7000
    bad["kafka"]["bootstrap_servers"] = "kafka:9094"
    (tmp_path / "auditwatch.yaml").write_text(yaml.safe_dump(bad))
    doc2 = copy.deepcopy(compose())
    for s in auditwatch_services(doc2).values():
        s["volumes"] = [f"{tmp_path}/auditwatch.yaml:/etc/auditwatch/auditwatch.yaml:ro"]
        s["environment"] = {}
    assert worker_port_problems(doc2, COMPOSE_DIR)
    assert prometheus_problems(doc2, COMPOSE_DIR)
    assert kafka_problems(doc2, COMPOSE_DIR)
    assert ship_problems(doc2, COMPOSE_DIR)  # its log folder and state volume are gone too
    doc3 = copy.deepcopy(compose())
    gname = next(n for n, s in doc3["services"].items() if str(s.get("image", "")).startswith("grafana/"))
    doc3["services"][gname]["volumes"] = [v.replace("../../dashboards:", "../../deploy:")
                                          for v in doc3["services"][gname]["volumes"]]
    doc3["services"][gname]["environment"] = {"PROMETHEUS_URL": "http://prometheus:9091"}
    assert len(grafana_problems(doc3, COMPOSE_DIR)) >= 2
    kname = next(n for n, s in doc3["services"].items() if "KAFKA_PROCESS_ROLES" in service_env(s))
    doc3["services"][kname]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] = "1@kafka:9999"
    assert kraft_problems(doc3)


def test_check_catches_broken_k8s(tmp_path: Path) -> None:
    docs = copy.deepcopy(k8s_docs())
    cpath, f, cfg = configmap_config(docs, tmp_path)
    dep = k8s_objects("Deployment", docs)[0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    c["args"] = ["wroker", "--config", cpath]
    c["livenessProbe"]["httpGet"] = {"path": "/health", "port": 8080}
    c["securityContext"]["readOnlyRootFilesystem"] = False
    c["volumeMounts"] = [vm for vm in c["volumeMounts"] if vm["mountPath"] != "/var/lib/auditwatch"]
    problems = k8s_worker_problems(docs, load_config(f), cpath)
    for what in ("wroker", "livenessProbe", "readOnlyRootFilesystem", "writable volume"):
        assert any(what in p for p in problems), f"{what} not caught: {problems}"
    c["env"].append({"name": "AUDITWATCH_NO_SUCH_VAR", "value": "1"})
    c["env"].append({"name": "SOME_TOKEN",
                     "valueFrom": {"secretKeyRef": {"name": "auditwatch-secrets", "key": "X"}}})
    for e in c["env"]:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref and e["name"] == env_keys(cfg).get("responders.webhook.secret_env"):
            ref["optional"] = True
    problems = k8s_env_problems(docs, cfg)
    for what in ("AUDITWATCH_NO_SUCH_VAR", "SOME_TOKEN", "must not be optional"):
        assert any(what in p for p in problems), f"{what} not caught: {problems}"
    dep["apiVersion"] = "apps/v1beta1"
    assert k8s_shape_problems(docs)


def test_check_catches_broken_dockerfile() -> None:
    good = DOCKERFILE.read_text()
    ignore = DOCKERIGNORE.read_text()
    assert dockerfile_problems(good.replace("COPY responders/ responders/", "COPY responder/ responders/"), ignore)
    assert dockerfile_problems(good.replace("COPY responders/ responders/\n", ""), ignore)
    assert dockerfile_problems(good, ignore + "\nstreams\n")
    assert dockerfile_problems(good, ignore + "\n**/*.yaml\n")  # package data would vanish
    assert dockerfile_problems(good.replace('ENTRYPOINT ["auditwatch"]', 'ENTRYPOINT ["auditwach"]'), ignore)
    assert dockerfile_problems(good.replace("USER 10001:10001", "USER root"), ignore)
    assert dockerfile_problems(re.sub(r"pip install \.", "pip install auditwatch", good), ignore)
    assert ignored("a/__pycache__/x.pyc", dockerignore_patterns("**/__pycache__"))
    assert not ignored("auditwatch/x.py", dockerignore_patterns("tests\n*.db"))
    assert not ignored("x/keep", dockerignore_patterns("x/*\n!x/keep"))
