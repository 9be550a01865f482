# Image for the light-curve ingest Airflow deployment (docker-compose.yaml, Helm chart): K2, Kepler and TESS DAGs.
# The base tag must match the apache-airflow==X.Y.Z pin in requirements.txt
# (tests/test_compose.py checks this).
FROM apache/airflow:3.3.2-python3.11

# The base image's default user is already `airflow`; be explicit, pip must not run as root.
USER airflow

# requirements.txt is the runtime set only (no test tool: those are in requirements-dev.txt). Every package
# is pinned with ==, including apache-airflow itself, so pip cannot upgrade or downgrade the Airflow that
# ships in the base image.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# Bake the DAGs and plugins into the image so it also runs without bind mounts (e.g. on
# Kubernetes with the official Helm chart). docker-compose.yaml mounts ./dags and ./plugins over
# these paths for local development.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
