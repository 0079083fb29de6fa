"""What a server process costs, read from /proc (Linux): memory, file descriptors, CPU time.

Benchmarks and robustness tests read the server they started from outside, as a deployment
would be watched, rather than trusting anything the server says about itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS), in KiB."""
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    if found is None:
        raise ProcessLookupError(f"no VmRSS for process {pid}")
    return int(found.group(1))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


_LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket


def socket_inodes(pids: list[int]) -> set[str]:
    """The inodes of the sockets these processes hold open (cheap: a few readlinks)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def listening(pids: list[int], port: int) -> bool | None:
    """Whether one of these processes listens on TCP `port`; None without /proc.

    Watching the kernel's tables is how the suite knows a server it started is ready without
    connecting to it: a readiness connection closed at once is a client hang-up, the very event
    some servers crash on, and the suite must not cause the failure it then reports. The socket
    table is read only once the processes hold a socket: on a busy host it is thousands of lines
    and takes tens of milliseconds to read.
    """
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = socket_inodes(pids)
    if not inodes:
        return False
    for fields in _tcp_sockets():
        local_port = int(fields[1].rsplit(":", 1)[1], 16) if len(fields) > 9 else -1
        if local_port == port and fields[3] == _LISTEN and fields[9] in inodes:
            return True
    return False


def _tcp_sockets() -> Iterator[list[str]]:
    """The fields of each row of /proc/net/tcp and tcp6 (a missing table has no rows)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            yield line.split()


_TCP_STATES = {
    "01": "ESTABLISHED",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    _LISTEN: "LISTEN",
    "0B": "CLOSING",
}


def socket_states() -> dict[str, str]:
    """Socket inode to `STATE local->remote`, from /proc/net/tcp and tcp6: what a leaked
    descriptor was, for a failure message."""
    states = {}
    for fields in _tcp_sockets():
        state = _TCP_STATES.get(fields[3], fields[3])
        states[fields[9]] = f"{state} {fields[1]}->{fields[2]}"
    return states


def describe_fds(pid: int) -> list[str]:
    """What each open descriptor of `pid` is, sockets with their TCP state."""
    states = socket_states()
    described = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        inode = link[len("socket:[") : -1] if link.startswith("socket:[") else ""
        described.append(f"{fd}: {link} {states.get(inode, '')}".rstrip())
    return described


def group_pids(pgid: int) -> list[int]:
    """Every process of process group `pgid` (a scan of /proc: tens of milliseconds)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def group_tasks(pgid: int) -> list[Path]:
    """The /proc stat files of every thread of every process in process group `pgid`."""
    return [stat for pid in group_pids(pgid) for stat in Path(f"/proc/{pid}/task").glob("*/stat")]


def all_asleep(tasks: list[Path]) -> bool | None:
    """True when every task is blocked (waiting in select(), epoll_wait(), accept(), ...): a
    server that has done all it had to; None when none of them exists any more."""
    seen = False
    for stat in tasks:
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        seen = True
        if state not in ("S", "Z"):  # sleeping, or dead and not yet reaped
            return False
    return True if seen else None
