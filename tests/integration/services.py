"""A Redis and a PostgreSQL of a test's own: free ports, data in a temporary folder, started and stopped by pid.

Restarting them touches nothing else on the machine (not the machine's own Redis on 6379 nor its PostgreSQL
on 5432). PostgreSQL refuses to run as root, so its processes run as the ``postgres`` OS user (``setpriv``,
which execs: the pid started is the postmaster's), on a data folder that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.integration.stack import StackError, free_port

PG_BIN = Path(os.environ.get("LIGHTCURVE_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"


def _wait_until(check, seconds: float, what: str, log: Path) -> None:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise StackError(f"{what} not ready in {seconds:.0f} s; log {log}:\n{log.read_text(errors='replace')[-3000:]}")


def _stop_pid(popen: subprocess.Popen | None, sig: int, timeout: float = 30) -> None:
    """Signal the process we started, by its pid; SIGKILL it if it has not exited within ``timeout``."""
    if popen is None or popen.poll() is not None:
        return
    popen.send_signal(sig)
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait(timeout=10)


class LocalRedis:
    """``redis-server`` on a free port of 127.0.0.1, no persistence: a restart loses what was queued."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lightcurve-redis-"))
        self.port = free_port()
        self.log = self.dir / "redis.log"
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                   "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.log)]
        self.popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_until(self.ping, 30, f"Redis on port {self.port}", self.log)
        return self

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        _stop_pid(self.popen, signal.SIGTERM)
        self.popen = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class LocalPostgres:
    """A PostgreSQL cluster of its own (``initdb``, trust auth) on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lightcurve-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "postgres.log"
        self.popen: subprocess.Popen | None = None
        user = pwd.getpwnam(PG_OS_USER)
        self._ids = (user.pw_uid, user.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *command: str) -> list[str]:
        uid, gid = self._ids
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", *command]

    def init(self) -> LocalPostgres:
        os.chown(self.dir, *self._ids)
        os.chmod(self.dir, 0o700)
        subprocess.run(self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                                         "postgres", "--no-sync", "-E", "UTF8"),
                       check=True, capture_output=True, text=True, timeout=120)
        return self

    def start(self) -> LocalPostgres:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self._as_postgres(str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                  "-h", "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off",
                                  "-c", "max_connections=200"),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_until(self.ready, 60, f"PostgreSQL on port {self.port}", self.log)
        return self

    def ready(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            raise StackError(f"postgres exited {self.popen.returncode}:\n{self.log.read_text(errors='replace')}")
        result = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                                check=False)
        return result.returncode == 0

    def create_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): sessions are cut, as when the server restarts."""
        _stop_pid(self.popen, signal.SIGINT)
        self.popen = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
