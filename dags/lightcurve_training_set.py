"""Airflow DAG lightcurve_training_set: labelled, phase-folded views of every planet, KOI and TOI, kept up to date.

Thin wiring only: the DAG is built by lightcurve_ingest.wiring.training_dag; the work is in plugins/lightcurve_ingest.
"""

from lightcurve_ingest.wiring.training_dag import build_training_dag

dag = build_training_dag()
