"""A real Airflow 3 deployment on this machine, as separate processes, for integration tests and benchmarks.

``AirflowStack`` starts what docker-compose.yaml runs, minus the containers: ``airflow api-server``,
``airflow scheduler``, ``airflow dag-processor`` and ``airflow celery worker`` (CeleryExecutor), on

* the machine's PostgreSQL (``127.0.0.1:5432``, user ``postgres``, trust auth): a database is created
  for the stack and dropped when it stops;
* the machine's Redis (``127.0.0.1:6379``) as the Celery broker: the stack claims an empty database
  index (a marker key set with NX), uses a Celery queue of its own, and flushes that index when it stops.

Every process gets the same environment (``AirflowStack.env``): a temporary AIRFLOW_HOME, this repo's
dags/ and plugins/, the FAB auth manager, a JWT secret, fast scheduler/dag-processor intervals, free
ports, and whatever ``extra_env`` adds (the stand-ins' ``AIRFLOW_CONN_*`` variables). Processes run in
sessions of their own (``start_new_session``) with their output in ``<home>/proc-logs/<name>.log``;
``stop()`` sends SIGTERM to each process group, then SIGKILL to whatever is left (the group and every
descendant recorded while it ran), and always drops the database.

Nothing here imports Airflow: the test process keeps its own (SQLite) configuration untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import requests

from lightcurve_ingest.settings import ENV_PREFIX

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "k2_lightcurve_ingest"
CONSUMER_DAG_ID = "lightcurve_catalog_consumer"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_CLAIM_KEY = "lightcurve-ingest:integration-stack:owner"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-integration"

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
_INHERITED_PREFIXES = ("AIRFLOW", ENV_PREFIX, "MAST_POOL_SLOTS", "AWS_", "_AIRFLOW")


class StackError(RuntimeError):
    """The stack could not start, or a wait on it ran out of time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_command() -> list[str]:
    """The ``airflow`` CLI of the running interpreter's environment (the repo's .venv)."""
    script = Path(sys.executable).with_name("airflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        return f"({err})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Deadline:
    """A point in time every wait of a test must finish before."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    @property
    def remaining(self) -> float:
        return self.start + self.seconds - time.monotonic()

    def left(self, at_most: float | None = None) -> float:
        """Seconds left (at least 1), capped at ``at_most``; raises once the deadline has passed."""
        remaining = self.remaining
        if remaining <= 0:
            raise StackError(f"the {self.seconds:.0f} s time budget is used up")
        return max(1.0, remaining if at_most is None else min(remaining, at_most))


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    args: tuple[str, ...] = ()
    descendants: dict[int, float] = field(default_factory=dict)  # pid -> create time (pids get reused)

    def record_descendants(self) -> None:
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.popen.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.descendants.setdefault(child.pid, child.create_time())


# --- PostgreSQL and Redis -------------------------------------------------------------------------

def _pg_admin():
    import psycopg2

    try:
        conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=10)
    except psycopg2.OperationalError as err:
        raise StackError(
            f"PostgreSQL is needed on {PG_HOST}:{PG_PORT} (user {PG_USER}, trust auth) and is not reachable: {err}"
            "(start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`)") from err
    conn.autocommit = True
    return conn


def create_database(name: str) -> None:
    conn = _pg_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def drop_database(name: str) -> None:
    conn = _pg_admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def database_exists(name: str) -> bool:
    conn = _pg_admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def claim_redis_db(owner: str) -> int:
    """An empty Redis database index (1-15), marked as ours so that no concurrent stack takes it."""
    import redis

    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=10).ping()
    except redis.RedisError as err:
        raise StackError(f"Redis is needed on {REDIS_HOST}:{REDIS_PORT} and is not reachable: {err}") from err
    for index in range(1, 16):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index, socket_timeout=10)
        try:
            if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, owner, nx=True):
                if client.dbsize() == 1:
                    return index
                client.delete(REDIS_CLAIM_KEY)
        finally:
            client.close()
    raise StackError(f"no empty Redis database index on {REDIS_HOST}:{REDIS_PORT}")


def release_redis_db(index: int, owner: str) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index, socket_timeout=10)
    try:
        if client.get(REDIS_CLAIM_KEY) == owner.encode():
            client.flushdb()
    finally:
        client.close()


# --- the stack ------------------------------------------------------------------------------------

class AirflowStack:
    """Start with ``start()`` (or ``with``), stop with ``stop()``; see the module docstring."""

    def __init__(self, extra_env: Mapping[str, str] | None = None, *, worker_concurrency: int = 4,
                 api_workers: int = 1, home: Path | None = None, keep_home: bool = False,
                 unpause: tuple[str, ...] = (DAG_ID, CONSUMER_DAG_ID), broker_url: str | None = None,
                 database_url: str | None = None) -> None:
        """``broker_url`` (a Redis URL) and ``database_url`` (``postgresql+psycopg2://...``, the database existing)
        point the stack at services the caller owns; without them it claims a Redis index and creates a database
        on the machine's own services."""
        self.run_tag = uuid.uuid4().hex[:10]
        self.home = Path(home) if home else Path(tempfile.mkdtemp(prefix="k2-airflow-stack-"))
        self.keep_home = keep_home
        self.proc_logs = self.home / "proc-logs"
        self.database = f"lightcurve_ingest_it_{self.run_tag}"
        self.redis_db: int | None = None
        self.queue = f"k2it-{self.run_tag}"
        self.worker_concurrency = worker_concurrency
        self.api_workers = api_workers
        self.unpause = unpause
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.scheduler_health_port = free_port()
        self.worker_log_port = free_port()
        self.extra_env = dict(extra_env or {})
        self.broker_url = broker_url
        self.database_url = database_url
        self.processes: list[_Proc] = []
        self._db_created = False
        self._token: str | None = None
        self.env: dict[str, str] = {}

    # environment ----------------------------------------------------------------------------------
    def _build_env(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
        sql = self.database_url or f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"
        broker = self.broker_url or f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sql.replace("postgresql+psycopg2://", "postgresql://"),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "lightcurve_ingest.wiring.celery_worker.CELERY_CONFIG",  # compose
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",  # as compose
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": str(self.api_workers),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # Fast enough for a test, not so fast that two cores spend their time polling.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.scheduler_health_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
            "PYTHONPATH": str(REPO / "plugins"),  # for `python -m lightcurve_ingest.wiring.airflow_setup`
            f"{ENV_PREFIX}RETRY_DELAY_SECONDS": "1",
            f"{ENV_PREFIX}HTTP_TIMEOUT": "20",
        })
        env.update(self.extra_env)
        return env

    # life cycle -----------------------------------------------------------------------------------
    def __enter__(self) -> AirflowStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, deadline: Deadline | None = None) -> AirflowStack:
        """Database, broker, migrations, admin user, pool; then the four components; then wait for them."""
        deadline = deadline or Deadline(300)
        try:
            self.proc_logs.mkdir(parents=True, exist_ok=True)
            if self.broker_url is None:
                self.redis_db = claim_redis_db(self.run_tag)
            if self.database_url is None:
                create_database(self.database)
                self._db_created = True
            self.env = self._build_env()
            (self.home / "stack-env.sh").write_text(
                "".join(f"export {k}={json.dumps(v)}\n" for k, v in sorted(self.env.items())
                        if k.startswith(("AIRFLOW", ENV_PREFIX))))
            self.cli("db", "migrate", timeout=deadline.left(240))
            self.cli("users", "create", "--username", ADMIN_USER, "--password", ADMIN_PASSWORD,
                     "--role", "Admin", "--firstname", "K2", "--lastname", "Admin",
                     "--email", "admin@lightcurve-ingest.invalid", timeout=deadline.left(120))
            self.run([sys.executable, "-m", "lightcurve_ingest.wiring.airflow_setup"], timeout=deadline.left(120))
            self.spawn("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port),
                       "--workers", str(self.api_workers))
            self.spawn("scheduler", "scheduler")
            self.spawn("dag-processor", "dag-processor")
            self.spawn_worker()
            self.wait_ready(deadline)
            for dag_id in self.unpause:
                self.wait_for_dag(dag_id, deadline)
                self.cli("dags", "unpause", dag_id, timeout=deadline.left(120))
        except BaseException:
            self.stop(remove_home=False)  # the logs stay for the caller to show; its stop() removes them
            raise
        return self

    def spawn_worker(self, name: str = "celery-worker") -> _Proc:
        """A Celery worker on the stack's queue (another one, under another name, replaces a killed one)."""
        return self.spawn(name, "celery", "worker", "--concurrency", str(self.worker_concurrency),
                          "--queues", self.queue, "--celery-hostname", f"{name}-{self.run_tag}@%h",
                          "--without-gossip", "--without-mingle")

    def process(self, name: str) -> _Proc:
        return next(p for p in self.processes if p.name == name)

    def kill(self, proc: _Proc) -> None:
        """SIGKILL a component at once, as the kernel's OOM killer would: its process group and every descendant
        recorded (one may have left the group), each by its pid; then stop watching it."""
        proc.record_descendants()
        _kill_group(proc.popen.pid, signal.SIGKILL)
        for pid in _live(proc.descendants):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        proc.popen.wait(timeout=30)
        self.processes.remove(proc)

    def spawn(self, name: str, *args: str) -> _Proc:
        log = self.proc_logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen([*airflow_command(), *args], env=self.env, cwd=self.home, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        proc = _Proc(name, popen, log, args)
        self.processes.append(proc)
        return proc

    def restart_exited(self) -> list[str]:
        """Start again, with the same arguments, every component that has exited (what ``restart: always`` does
        in docker-compose.yaml); returns their names."""
        restarted = []
        for proc in list(self.processes):
            if proc.popen.poll() is not None:
                self.processes.remove(proc)
                self.spawn(proc.name, *proc.args)
                restarted.append(proc.name)
        return restarted

    def cli(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run one ``airflow`` CLI command with the stack's environment (in its own session, killed on timeout)."""
        return self.run([*airflow_command(), *args], timeout=timeout, check=check)

    def run(self, command: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run one command with the stack's environment (in its own session, killed on timeout)."""
        shown = " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command))
        popen = subprocess.Popen(command, env=self.env, cwd=self.home, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                 start_new_session=True)
        try:
            stdout, stderr = popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(popen.pid, signal.SIGKILL)
            stdout, stderr = popen.communicate()
            raise StackError(
                f"`{shown}` timed out after {timeout:.0f} s:\n{stdout}\n{stderr}") from None
        except BaseException:  # the time limit, Ctrl-C: the command must not outlive the caller
            _kill_group(popen.pid, signal.SIGKILL)
            popen.wait()
            raise
        result = subprocess.CompletedProcess(command, popen.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise StackError(f"`{shown}` exited {result.returncode}:\n{stdout[-3000:]}\n"
                             f"{stderr[-5000:]}")
        return result

    def _check_alive(self) -> None:
        for proc in self.processes:
            proc.record_descendants()
            if proc.popen.poll() is not None:
                text = tail(proc.log)
                hint = ""
                if "cannot import name 'retry' from 'celery.backends.database'" in text:
                    hint = ("\nHint: celery 5.7 removed celery.backends.database.retry, which "
                            "apache-airflow-providers-celery 3.26.0 imports: pin celery==5.6.3.")
                raise StackError(f"{proc.name} exited with {proc.popen.returncode}:\n{text}{hint}")

    def wait_ready(self, deadline: Deadline) -> None:
        """api-server answers, the scheduler's health check is green, the worker says it is ready."""
        checks = {
            "api-server": lambda: _http_ok(f"{self.base_url}/api/v2/version"),
            "scheduler": lambda: _http_ok(f"http://127.0.0.1:{self.scheduler_health_port}/health"),
            "celery-worker": lambda: all(" ready." in p.log.read_text(errors="replace")
                                         for p in self.processes if p.name.startswith("celery-worker")),
        }
        pending = dict(checks)
        while pending:
            self._check_alive()
            for name, check in list(pending.items()):
                if check():
                    del pending[name]
            if pending:
                if deadline.remaining <= 0:
                    raise StackError(f"not ready in time: {sorted(pending)}\n{self.log_tails()}")
                time.sleep(1)

    def wait_for_dag(self, dag_id: str, deadline: Deadline) -> dict:
        """Until the dag-processor has parsed ``dag_id`` (it shows in the REST API)."""
        while True:
            self._check_alive()
            response = self.api("GET", f"/api/v2/dags/{dag_id}", check=False)
            if response.status_code == 200:
                return response.json()
            if deadline.remaining <= 0:
                errors = self.api("GET", "/api/v2/importErrors", check=False).text
                raise StackError(f"{dag_id} was not parsed in time; import errors: {errors}\n{self.log_tails()}")
            time.sleep(1)

    # REST API -------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = requests.post(f"{self.base_url}/auth/token", timeout=30,
                                     json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
            if response.status_code not in (200, 201):
                raise StackError(f"POST /auth/token: HTTP {response.status_code}: {response.text[:500]}")
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, *, check: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        response = requests.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)
        if check and not response.ok:
            raise StackError(f"{method} {path}: HTTP {response.status_code}: {response.text[:1000]}")
        return response

    def trigger(self, dag_id: str, conf: dict, *, note: str | None = None) -> dict:
        """POST a manual run, as the UI's trigger form does: no logical date, the params as ``conf``."""
        body = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()

    @staticmethod
    def run_path(dag_id: str, run_id: str) -> str:
        """The REST path of a run (run ids hold ``:`` and ``+``)."""
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", self.run_path(dag_id, run_id)).json()

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict]:
        params.setdefault("limit", 100)
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params=params).json()["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"{self.run_path(dag_id, run_id)}/taskInstances"
        return self.api("GET", path, params={"limit": 500}).json()["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {(ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"): ti["state"]
                for ti in self.task_instances(dag_id, run_id)}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path, params={"deserialize": "true", "stringify": "false"}).json()["value"]

    def wait_for_run(self, dag_id: str, run_id: str, deadline: Deadline, poll: float = 1.0) -> dict:
        """Poll a run until it ends; returns the run (its state may be ``failed``)."""
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            self._check_alive()
            if deadline.remaining <= 0:
                states = self.task_states(dag_id, run_id)
                raise StackError(f"run {run_id} still {run['state']} at the deadline; tasks: {states}\n"
                                 f"{self.log_tails()}")
            time.sleep(poll)

    def run_report(self, dag_id: str, run_id: str) -> str:
        """The run's task states and the tail of each failed task's log, for assertion messages."""
        lines = [f"run {run_id}: tasks {self.task_states(dag_id, run_id)}"]
        for ti in self.task_instances(dag_id, run_id):
            if ti["state"] not in ("success", "skipped"):
                path = (f"{self.run_path(dag_id, run_id)}/taskInstances/{ti['task_id']}/logs/"
                        f"{max(ti['try_number'], 1)}")
                params = {"map_index": ti["map_index"], "full_content": "true"}
                response = self.api("GET", path, params=params, check=False,
                                    headers={"Accept": "application/json"})
                lines.append(f"--- log of {ti['task_id']}[{ti['map_index']}] ({ti['state']}):\n"
                             f"{_log_text(response)[-4000:]}")
        return "\n".join(lines)

    # diagnostics and teardown ---------------------------------------------------------------------
    def save_logs(self, dest: Path) -> Path:
        """Copy the components' output and the task logs to ``dest`` (kept after the home is removed)."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("proc-logs", "logs"):
            if (self.home / name).exists():
                shutil.copytree(self.home / name, dest / name, dirs_exist_ok=True)
        return dest

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(f"===== {p.name} (pid {p.popen.pid}, {p.log}) =====\n{tail(p.log, lines)}"
                         for p in self.processes)

    def pids(self) -> set[int]:
        """The pids of the started processes and of every descendant seen so far."""
        pids = set()
        for proc in self.processes:
            proc.record_descendants()
            pids.add(proc.popen.pid)
            pids |= set(_live(proc.descendants))
        return pids

    def stop(self, timeout: float = 30, *, remove_home: bool = True) -> None:
        """SIGTERM to each process group, SIGKILL after ``timeout``; drop the database; release Redis.

        Safe to call more than once. The home (logs included) is removed unless ``keep_home`` was given.
        """
        try:
            _stop_processes(self.processes, self.home, timeout)
        finally:
            try:
                if self._db_created:
                    drop_database(self.database)
                    self._db_created = False
            finally:
                if self.redis_db is not None:
                    release_redis_db(self.redis_db, self.run_tag)
                    self.redis_db = None
                if remove_home and not self.keep_home:
                    shutil.rmtree(self.home, ignore_errors=True)

    def still_running(self) -> list[int]:
        """Pids still alive (zombies excepted) of the started processes, their recorded descendants, and any
        other process whose environment has this stack's AIRFLOW_HOME."""
        pids = {pid for proc in self.processes for pid in _live(_with_leader(proc))}
        return sorted(pids | set(processes_with_home(self.home)))


def processes_with_home(home: Path) -> list[int]:
    """Pids of live processes whose environment has ``AIRFLOW_HOME=home``: only a stack's processes do."""
    found = []
    for process in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if process.pid != os.getpid() and process.environ().get("AIRFLOW_HOME") == str(home) \
                    and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
    return found


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop_processes(processes: list[_Proc], home: Path, timeout: float) -> None:
    for proc in processes:
        proc.record_descendants()
    # All groups get SIGTERM at once: the worker's warm shutdown and the scheduler's own exit run in parallel.
    for proc in processes:
        if _group_alive(proc):
            _kill_group(proc.popen.pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=max(0.1, end - time.monotonic()))
    for proc in processes:
        if _group_alive(proc):
            _kill_group(proc.popen.pid, signal.SIGKILL)  # the group's stragglers, even if the leader is gone
        for pid in _live(proc.descendants):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()  # one that left the group (setsid), by its own pid
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=10)
    for pid in processes_with_home(home):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()  # started by one of ours and escaped both the group and the records
    time.sleep(0.2)
    leftovers = {pid for proc in processes for pid in _live(_with_leader(proc))} | set(processes_with_home(home))
    if leftovers:
        raise StackError(f"processes still alive after SIGKILL: {sorted(leftovers)}")


def _with_leader(proc: _Proc) -> dict[int, float | None]:
    return {**proc.descendants, **({proc.popen.pid: None} if proc.popen.poll() is None else {})}


def _group_alive(proc: _Proc) -> bool:
    """Whether the leader or a recorded descendant is still in the process group the leader started."""
    if proc.popen.poll() is None:
        return True
    for pid in _live(proc.descendants):
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == proc.popen.pid:
                return True
    return False


def _live(pids: dict[int, float | None]) -> list[int]:
    """Those of ``pids`` still running as the same process (same create time, when known), zombies excepted."""
    alive = []
    for pid, created in pids.items():
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if (created is None or process.create_time() == created) and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
    return alive


def _log_text(response: requests.Response) -> str:
    """A task log from the REST API (JSON: ``content`` is a list of structured lines) as text."""
    try:
        content = response.json()["content"]
    except (ValueError, KeyError, TypeError):
        return response.text
    if isinstance(content, str):
        return content
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in content)


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


class TimeLimit:
    """Raise ``StackError`` in the main thread once ``seconds`` have passed (SIGALRM); ``cancel()`` disarms it.

    Cancel it before tearing down, so that the teardown itself is never interrupted.
    """

    def __init__(self, seconds: float, what: str = "the test") -> None:
        self.seconds, self.what = seconds, what
        self.expired = False
        self._previous: Any = None

    @property
    def message(self) -> str:
        return f"{self.what} ran past its {self.seconds:.0f} s limit"

    def _expired(self, signum: int, frame: Any) -> None:
        self.expired = True
        raise StackError(self.message)

    def start(self) -> TimeLimit:
        self._previous = signal.signal(signal.SIGALRM, self._expired)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def cancel(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if self._previous is not None:
            signal.signal(signal.SIGALRM, self._previous)
            self._previous = None


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "the test") -> Iterator[TimeLimit]:
    limit = TimeLimit(seconds, what).start()
    try:
        yield limit
    finally:
        limit.cancel()
