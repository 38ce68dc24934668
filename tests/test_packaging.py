"""The card's folders are mapped into one import namespace; every package
folder on disk must be listed in pyproject.toml or it silently vanishes from
the wheel."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT

MAPPED = {"auditwatch": "auditwatch", "streams": "auditwatch.streams",
          "detectors": "auditwatch.detectors", "responders": "auditwatch.responders"}


def test_every_package_folder_is_listed() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    assert cfg["package-dir"] == {v: k for k, v in MAPPED.items()}
    on_disk = set()
    for top, mod in MAPPED.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            on_disk.add(".".join([mod, *rel.parts]) if rel.parts else mod)
    assert on_disk == listed


def test_top_level_layout() -> None:
    for d in ("streams", "detectors", "responders", "tests", "deploy", "dashboards"):
        assert (ROOT / d).is_dir(), d
