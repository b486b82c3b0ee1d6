"""Process plumbing for the local cluster: pid files, liveness, waiting, stopping.

Everything here works on real processes and the real ``/proc``. A pid file is only
trusted when the process it names is alive *and* its command line still looks like
the program we started (pids are reused), so a stale pid file is harmless.

>>> wait_until(lambda: True, timeout=1.0, what="nothing")
>>> wait_until(lambda: False, timeout=0.05, what="the impossible", interval=0.01)
Traceback (most recent call last):
...
TimeoutError: the impossible did not come up within 0.05 s
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ProcessExited(RuntimeError):
    """A process we started died before it answered."""


def read_pid(path: Path) -> int | None:
    """The pid stored in ``path``, or None when the file is missing or garbage."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_pid(path: Path, pid: int) -> None:
    """Write ``pid`` atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(path)


def remove_pid(path: Path) -> None:
    path.unlink(missing_ok=True)


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own exited child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie.

    >>> is_alive(os.getpid())
    True
    """
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # Field 3 (after the parenthesised command name) is the state; Z = zombie, X = dead.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    """The command line of ``pid`` joined by spaces ('' when it cannot be read).

    >>> "python" in cmdline(os.getpid()).lower()
    True
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def looks_like(pid: int, markers: Sequence[str]) -> bool:
    """Whether ``pid`` is alive and its command line contains every marker."""
    if not is_alive(pid):
        return False
    line = cmdline(pid)
    return bool(line) and all(marker in line for marker in markers)


def managed_pid(pid_file: Path, markers: Sequence[str]) -> int | None:
    """The pid from ``pid_file`` if that process is still ours, else None."""
    pid = read_pid(pid_file)
    if pid is not None and looks_like(pid, markers):
        return pid
    return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_pid(port: int) -> int | None:
    """Best effort: the pid listening on TCP ``port`` (via /proc; None if unknown).

    Used only to show a pid for a process we reuse but did not start.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return int(proc.name)
        except OSError:
            continue
    return None


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.2,
    failed: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``predicate`` until it is true; raise TimeoutError naming ``what`` at the deadline.

    ``failed`` is checked on every round; when it returns a reason (for example "the
    process exited"), waiting stops at once with :class:`ProcessExited`.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if failed is not None:
            reason = failed()
            if reason:
                raise ProcessExited(f"{what} did not come up: {reason}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:g} s")
        time.sleep(interval)


def spawn_detached(argv: Sequence[str], log_file: Path, *, cwd: Path | None = None) -> int:
    """Start ``argv`` in its own session, stdout+stderr appended to ``log_file``; return its pid.

    The child outlives the caller (``encore cluster up`` returns, the broker stays).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def stop(pid: int, timeout: float, markers: Sequence[str] = ()) -> str:
    """SIGTERM ``pid``, wait up to ``timeout`` s for it to exit, then SIGKILL.

    Returns ``"not running"``, ``"not ours"`` (alive but its command line lacks a
    marker: never signalled), ``"stopped"`` or ``"killed"``.
    """
    if not is_alive(pid):
        return "not running"
    if markers and not looks_like(pid, markers):
        return "not ours"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    try:
        wait_until(lambda: not is_alive(pid), timeout, f"exit of process {pid}", interval=0.1)
        return "stopped"
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not is_alive(pid), 10.0, f"exit of process {pid} after SIGKILL")
        return "killed"


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16_384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def ensure_command(command: str, package: str) -> str:
    """Path of ``command``; installs Debian ``package`` with apt-get when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(
            f"{command} is not installed; run: sudo apt-get install -y "
            f"--no-install-recommends {package}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
            )
    found = shutil.which(command)
    if not found:
        raise RuntimeError(f"apt-get installed {package} but {command} is still not on PATH")
    return found
