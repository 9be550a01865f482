"""Airflow DAG tess_lightcurve_ingest: daily copy of TESS SPOC 2-minute light curves of TOI stars and their new sectors.

Thin wiring only: the DAG is built by lightcurve_ingest.wiring.dag_factory; the work is in plugins/lightcurve_ingest.
"""

from lightcurve_ingest.wiring.dag_factory import build_ingest_dag

dag = build_ingest_dag("tess")
