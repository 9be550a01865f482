# Shared by the scripts: the virtual environment and an Airflow home inside the repository.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIGHTCURVE_INGEST_VENV:-$REPO/.venv}"
PYTHON_BIN="${PYTHON_BIN:-$(command -v python3.11 || command -v python3)}"

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV with $PYTHON_BIN"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256"
  local want
  want="$(sha256sum "$REPO/requirements.txt" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing requirements.txt into $VENV (log: $VENV/pip-install.log)"
    # pip compiles every module to .pyc here (about 40 s). Do not skip it: where PYTHONDONTWRITEBYTECODE is
    # set (as on this machine), nothing is cached later, and each process then compiles Airflow from source
    # on import (14 s instead of 4.5 s a process, for every task and CLI call).
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$REPO/requirements.txt" \
        >"$VENV/pip-install.log" 2>&1; then
      tail -n 40 "$VENV/pip-install.log"
      echo "pip install -r requirements.txt failed" >&2
      return 1
    fi
    echo "$want" >"$stamp"
  fi
}

use_local_airflow_home() {
  export AIRFLOW_HOME="${AIRFLOW_HOME:-$REPO/airflow-home}"
  export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
  export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO/plugins"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  mkdir -p "$AIRFLOW_HOME"
  "$VENV/bin/airflow" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || {
    tail -n 30 "$AIRFLOW_HOME/db-migrate.log"; return 1; }
  PYTHONPATH="$REPO/plugins" "$VENV/bin/python" -m lightcurve_ingest.airflow_setup >/dev/null
}

# The mission a script runs: its first argument if it names one (k2, kepler, tess), else k2. Sets MISSION and
# leaves the other arguments in ARGS.
pick_mission() {
  MISSION=k2
  case "${1:-}" in k2|kepler|tess) MISSION="$1"; shift ;; esac
  ARGS=("$@")
}
