"""The embedded server: started once per data dir, reused, shared by processes, stoppable.

Each test uses its own short data dir (unix socket paths are limited to about
100 characters) and stops every server it started. The dirs are not under
tmp_path: running as root, the server runs as another user, and every pytest
session that starts resets the shared ``/tmp/pytest-of-root`` to 0700, which can
lock that user out of a data dir another session is creating (seen when two
sessions ran at once). Under ``$HTDAG_HOME`` when set, so CI's cleanup finds them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from htdag.core import embedded


def postmasters(pgdata: Path) -> list[psutil.Process]:
    """Postmaster processes serving ``pgdata``.

    Children rename themselves ("postgres: checkpointer"), but a child forked a
    moment ago still shows the postmaster's command line: it is not counted.
    """
    target = str(pgdata.resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and target in cmdline:
            found.append(proc)
    pids = {proc.pid for proc in found}
    return [proc for proc in found if proc.info["ppid"] not in pids]


def wait_for_postmasters(pgdata: Path, count: int, timeout: float = 10.0) -> list[psutil.Process]:
    """``postmasters`` once it has ``count`` entries (an old one may be exiting)."""
    deadline = time.monotonic() + timeout
    while True:
        found = postmasters(pgdata)
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def pgdata() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="htpg-", dir=os.environ.get("HTDAG_HOME") or None))
    path = root / "pg"
    try:
        yield path
    finally:
        embedded.stop_server(path)
        for proc in postmasters(path):  # never leave a server behind, whatever failed
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_data_dir_follows_htdag_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTDAG_HOME", str(tmp_path / "home"))
    assert embedded.data_dir() == tmp_path / "home" / "pgdata"
    assert (tmp_path / "home").is_dir()


def test_pg_bin_finds_wheel_programs() -> None:
    assert embedded.pg_bin("psql").is_file()
    assert os.access(embedded.pg_bin("pgbench"), os.X_OK)
    with pytest.raises(FileNotFoundError):
        embedded.pg_bin("no-such-program")


def test_status_of_a_missing_server(pgdata: Path) -> None:
    status = embedded.server_status(pgdata)
    assert status == {"running": False, "pid": None, "url": None, "data_dir": str(pgdata)}
    assert embedded.stop_server(pgdata) is False


def test_ensure_server_twice_reuses_one_server(pgdata: Path) -> None:
    url = embedded.ensure_server(pgdata)
    assert url.startswith("postgresql://postgres@/postgres?host=")
    assert "&port=" in url
    first = postmasters(pgdata)
    assert len(first) == 1

    assert embedded.ensure_server(pgdata) == url
    assert [p.pid for p in postmasters(pgdata)] == [first[0].pid]

    status = embedded.server_status(pgdata)
    assert status["running"] is True
    assert status["pid"] == first[0].pid
    assert status["url"] == url

    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # Settings written before the first start are in force.
        assert conn.execute("SHOW max_connections").fetchone() == ("200",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.execute("SHOW jit").fetchone() == ("off",)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_server_output_goes_to_its_log_file(pgdata: Path) -> None:
    embedded.ensure_server(pgdata)
    (proc,) = postmasters(pgdata)
    log = (pgdata / "log").resolve()
    for fd in (1, 2):
        assert Path(os.readlink(f"/proc/{proc.pid}/fd/{fd}")) == log
    assert os.readlink(f"/proc/{proc.pid}/fd/0") == "/dev/null"


def test_concurrent_processes_start_exactly_one_server(pgdata: Path) -> None:
    # Every child sleeps until the same instant, then races to start the server.
    start_at = time.time() + 2.0
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        time.sleep(max(0.0, {start_at!r} - time.time()))
        from htdag.core.embedded import ensure_server
        print(ensure_server(Path({str(pgdata)!r})))
        """
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    urls = []
    for child in children:
        # Pipes close when the child exits: a server holding them would hang here.
        out, err = child.communicate(timeout=90)
        assert child.returncode == 0, err
        urls.append(out.strip())

    assert len(set(urls)) == 1
    assert len(postmasters(pgdata)) == 1
    # The server outlived the processes that started it, and this one reuses it.
    assert embedded.server_status(pgdata)["running"] is True
    assert embedded.ensure_server(pgdata) == urls[0]
    assert len(postmasters(pgdata)) == 1


def test_stop_server_stops_it(pgdata: Path) -> None:
    url = embedded.ensure_server(pgdata)
    assert len(postmasters(pgdata)) == 1

    assert embedded.stop_server(pgdata) is True
    assert wait_for_postmasters(pgdata, 0) == []
    assert embedded.server_status(pgdata)["running"] is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert embedded.stop_server(pgdata) is False

    # The same directory starts again with its data and settings.
    assert embedded.ensure_server(pgdata) == url
    assert len(postmasters(pgdata)) == 1


def test_restart_server_cuts_connections_and_comes_back(pgdata: Path) -> None:
    url = embedded.ensure_server(pgdata)
    (before,) = postmasters(pgdata)
    conn = psycopg.connect(url, connect_timeout=10)
    try:
        assert embedded.restart_server(pgdata) == url
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    (after,) = wait_for_postmasters(pgdata, 1)
    assert after.pid != before.pid
    with psycopg.connect(url, connect_timeout=10) as conn2:
        assert conn2.execute("SELECT 1").fetchone() == (1,)


def test_ensure_server_recovers_after_the_server_was_killed(pgdata: Path) -> None:
    url = embedded.ensure_server(pgdata)
    (proc,) = postmasters(pgdata)
    proc.kill()  # SIGKILL: postmaster.pid stays behind, naming a dead (or zombie) pid
    proc.wait(timeout=10)
    assert embedded.server_status(pgdata)["running"] is False

    assert embedded.ensure_server(pgdata) == url
    (new,) = wait_for_postmasters(pgdata, 1)
    assert new.pid != proc.pid
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_stale_pidfile_naming_another_program_is_ignored(pgdata: Path) -> None:
    url = embedded.ensure_server(pgdata)
    pidfile = (pgdata / "postmaster.pid").read_text().splitlines()
    assert embedded.stop_server(pgdata) is True
    # As after a machine restart: the old pid now belongs to something else.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pidfile[0] = str(stranger.pid)
        (pgdata / "postmaster.pid").write_text("\n".join(pidfile) + "\n")
        assert embedded.server_status(pgdata)["running"] is False
        assert embedded.stop_server(pgdata) is False  # and it must not signal the stranger
        assert stranger.poll() is None

        assert embedded.ensure_server(pgdata) == url
        assert len(postmasters(pgdata)) == 1
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_concurrent_threads_start_exactly_one_server(pgdata: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        urls = set(pool.map(lambda _: embedded.ensure_server(pgdata), range(4)))
    assert len(urls) == 1
    assert len(postmasters(pgdata)) == 1


def test_stop_server_after_a_parent_dir_was_closed(pgdata: Path) -> None:
    # pytest resets its temp root to 0700 at each session start; under root the
    # server runs as another user, which must still reach its data dir to stop.
    embedded.ensure_server(pgdata)
    pgdata.parent.chmod(0o700)
    assert embedded.stop_server(pgdata) is True
    assert wait_for_postmasters(pgdata, 0) == []
