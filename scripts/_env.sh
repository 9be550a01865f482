# Shared by the scripts: the virtual environment and an Airflow home inside the repository.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIGHTCURVE_INGEST_VENV:-$REPO/.venv}"
PYTHON_BIN="${PYTHON_BIN:-$(command -v python3.11 || command -v python3)}"

# ensure_venv [runtime|dev]: the venv with requirements.txt (runtime, the default: what the DAGs need) or
# requirements-dev.txt (dev: the runtime set plus the test, benchmark and lint tools).
ensure_venv() {
  local set="${1:-runtime}" file
  case "$set" in
    runtime) file="requirements.txt" ;;
    dev) file="requirements-dev.txt" ;;
    *) echo "ensure_venv: unknown set '$set' (runtime or dev)" >&2; return 1 ;;
  esac
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV with $PYTHON_BIN"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256"
  local want
  # requirements-dev.txt includes requirements.txt: the stamp covers both files and the set chosen.
  want="$set $(cat "$REPO/requirements.txt" "$REPO/$file" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== installing $file into $VENV (log: $VENV/pip-install.log)"
    # pip compiles every module to .pyc here (about 40 s). Do not skip it: where PYTHONDONTWRITEBYTECODE is
    # set (as on this machine), nothing is cached later, and each process then compiles Airflow from source
    # on import (14 s instead of 4.5 s a process, for every task and CLI call).
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$REPO/$file" \
        >"$VENV/pip-install.log" 2>&1; then
      tail -n 40 "$VENV/pip-install.log"
      echo "pip install -r $file failed" >&2
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
  PYTHONPATH="$REPO/plugins" "$VENV/bin/python" -m lightcurve_ingest.wiring.airflow_setup >/dev/null
}

# The slugs of the missions the package registers (lightcurve_ingest.domain.missions.MISSIONS), one a line. Needs the
# venv (ensure_venv first).
mission_slugs() {
  PYTHONPATH="$REPO/plugins" "$VENV/bin/python" -c \
    'from lightcurve_ingest.domain.missions import MISSIONS; print("\n".join(MISSIONS))'
}

# The mission a script runs: its first argument if it is a registered mission's slug (k2, kepler, tess, ...),
# else k2; a first argument that is neither a slug nor a JSON conf ({...}) is refused. Sets MISSION and leaves
# the other arguments in ARGS. Needs the venv (ensure_venv first).
pick_mission() {
  local slugs
  slugs="$(mission_slugs)" || return 1
  MISSION=k2
  if [ $# -gt 0 ] && grep -qxF -- "$1" <<<"$slugs"; then
    MISSION="$1"
    shift
  elif [ $# -gt 0 ] && [[ "$1" != *"{"* ]]; then
    echo "'$1' is neither a mission (${slugs//$'\n'/, }) nor a JSON conf" >&2
    return 1
  fi
  ARGS=("$@")
}
