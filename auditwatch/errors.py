"""One exception root; every parse error says where the bad record was."""

from __future__ import annotations


class AuditwatchError(ValueError):
    """Root of every error auditwatch raises on purpose."""


class ConfigError(AuditwatchError):
    """Configuration or registry is invalid; the message names the file and key."""


class ParseError(AuditwatchError):
    """A record could not be parsed or normalised; it goes to the dead-letter path."""

    def __init__(self, reason: str, *, where: str = "", raw: object = None) -> None:
        self.reason = reason
        self.where = where
        self.raw = raw
        super().__init__(f"{where}: {reason}" if where else reason)
