"""The reference server as a separate process, for benchmarks: started, measured, stopped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from conformance import procstat

ROOT = Path(__file__).resolve().parent.parent


class BenchServer:
    """`jsonchat serve --port 0 ...` with its logs discarded; `rss_kib()` reads /proc."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transport.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"listening on (\S+):(\d+)", line)
        if found is None:
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.host, self.port = found.group(1), int(found.group(2))

    def rss_kib(self) -> int:
        return procstat.rss_kib(self.process.pid)

    def fd_count(self) -> int:
        return procstat.open_fds(self.process.pid)

    def cpu_s(self) -> float:
        return procstat.cpu_seconds(self.process.pid)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
