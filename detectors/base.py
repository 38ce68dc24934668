"""Shared detector vocabulary: the ATT&CK technique id format every rule and
anomaly detector is checked against."""

from __future__ import annotations

import re

ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
