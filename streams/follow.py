"""Following a log file as it grows: rotation, truncation, partial lines,
and flushing held records when the file goes quiet.

``poll()`` is synchronous and returns whatever is new; the runner calls it on
a timer. The committed position (inode, byte offset, line number) is what the
caller saves after processing, so a restart resumes where it stopped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from auditwatch.model import SourceRef
from auditwatch.streams.reader import make_parser
from auditwatch.streams.sources.base import DeadLetter, Item, Line, LineParser, ParseContext
from auditwatch.streams.sources.detect import canonical, detect
from auditwatch.streams.sources.json_records import JsonLinesParser

MAX_LINE = 16 * 1024 * 1024  # a "line" longer than this is dead-lettered in pieces, not held forever


class FileFollower:
    def __init__(self, path: str | Path, fmt: str = "auto", environment: str = "",
                 start: tuple[int, int, int] | None = None, idle_flush_seconds: float = 0.05) -> None:
        self.path = Path(path)
        self.fmt = canonical(fmt)
        self.environment = environment
        self.idle_flush = idle_flush_seconds
        self._f = None
        self.inode = -1
        self.offset = 0
        self.lineno = 0
        self._partial = b""
        self._parser: LineParser | None = None
        self._last_data = time.monotonic()
        self._flushed = True
        self._start = start
        self._head = b""  # the file's first bytes: if they change, it was truncated and rewritten

    @property
    def committable(self) -> tuple[int, int, int] | None:
        """(inode, offset, line) safe to resume from, or None while the parser holds
        records back (resuming then could lose them; re-reading is safe instead)."""
        if not self._flushed or self._partial:
            return None
        return self.inode, self.offset, self.lineno

    def _open(self) -> bool:
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return False
        st = os.fstat(f.fileno())
        self._f = f
        self.inode = st.st_ino
        self.offset = 0
        self.lineno = 0
        self._partial = b""
        if self._start and self._start[0] == st.st_ino and self._start[1] <= st.st_size:
            f.seek(self._start[1])
            self.offset, self.lineno = self._start[1], self._start[2]
        self._start = None
        self._parser = None
        self._head = os.pread(f.fileno(), 64, 0)
        return True

    def _ensure_parser(self, head: bytes) -> LineParser | None:
        if self._parser is None:
            ctx = ParseContext(str(self.path), self.environment, observed=time.time())
            fmt = self.fmt if self.fmt != "auto" else detect(head)
            if fmt is None:
                if head.lstrip()[:1] != b"{":
                    return None
                self._parser = JsonLinesParser(ctx)  # JSON lines: each record finds its source
            else:
                self._parser = make_parser(fmt, ctx)
        return self._parser

    def poll(self) -> list[Item]:
        out: list[Item] = []
        if self._f is None and not self._open():
            return out
        assert self._f is not None
        out += self._rotated()
        data = self._f.read(4 * 1024 * 1024)
        now = time.monotonic()
        if not data:
            if not self._flushed and now - self._last_data >= self.idle_flush:
                if self._parser is not None:
                    out += self._parser.flush()
                self._flushed = True
            return out
        self._last_data = now
        self._flushed = False
        buf = self._partial + data
        base = self.offset - len(self._partial)
        self.offset += len(data)
        lines = buf.split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            out.append(DeadLetter(f"line over {MAX_LINE} bytes", SourceRef("unknown", str(self.path),
                                  line=self.lineno + 1, offset=self.offset - len(self._partial)),
                                  self._partial[:4096].decode("utf-8", "replace")))
            self._partial = b""
        parser = self._ensure_parser(buf)
        pos = base
        for raw in lines:
            self.lineno += 1
            ln_off = pos
            pos += len(raw) + 1
            try:
                text = raw.decode("utf-8") + "\n"
            except UnicodeDecodeError as e:
                out.append(DeadLetter(f"invalid UTF-8: {e.reason}", SourceRef("unknown", str(self.path),
                                      line=self.lineno, offset=ln_off), raw.decode("utf-8", "backslashreplace")))
                continue
            if parser is None:
                if text.strip():
                    out.append(DeadLetter("unrecognised format (no source matched this input)",
                                          SourceRef("unknown", str(self.path), line=self.lineno, offset=ln_off), text))
                continue
            try:
                out += parser.feed(Line(text, self.lineno, ln_off))
            except Exception as e:  # one bad record, not a dead follower
                out.append(DeadLetter(f"parser error: {type(e).__name__}: {e}",
                                      SourceRef(parser.type, str(self.path), line=self.lineno, offset=ln_off), text))
        return out

    def _rotated(self) -> list[Item]:
        """Reopen on rotation (new inode at the path) or truncation (size below our offset)."""
        assert self._f is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino == self.inode and st.st_size >= self.offset and self._same_head():
            return []
        out: list[Item] = []
        if st.st_ino != self.inode:
            # drain what the old file still holds before switching
            rest = self._f.read()
            if rest:
                self._partial += rest
                self.offset += len(rest)
        if self._partial.strip() and self._parser is not None:
            out += self._parser.feed(Line(self._partial.decode("utf-8", "replace") + "\n", self.lineno + 1,
                                          self.offset - len(self._partial)))
        if self._parser is not None:
            out += self._parser.flush()
        self._f.close()
        self._f = None
        self._open()
        return out

    def _same_head(self) -> bool:
        assert self._f is not None
        if len(self._head) < 64:
            self._head = os.pread(self._f.fileno(), 64, 0)
            return True
        return os.pread(self._f.fileno(), len(self._head), 0) == self._head

    def close(self) -> list[Item]:
        out: list[Item] = []
        if self._parser is not None:
            out += self._parser.flush()
        if self._f is not None:
            self._f.close()
            self._f = None
        return out
