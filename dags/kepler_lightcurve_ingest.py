"""Airflow DAG kepler_lightcurve_ingest: daily copy of Kepler long-cadence light curves of the KOI table's stars.

Thin wiring only: the DAG is built by lightcurve_ingest.wiring.dag_factory; the work is in plugins/lightcurve_ingest.
"""

from lightcurve_ingest.wiring.dag_factory import build_ingest_dag

dag = build_ingest_dag("kepler")
