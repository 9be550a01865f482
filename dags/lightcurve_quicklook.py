"""Airflow DAG lightcurve_quicklook: a plot and periodogram PNG of every new light curve, and a gallery of them.

Thin wiring only: the DAG is built by lightcurve_ingest.wiring.quicklook_dag; the work is in plugins/lightcurve_ingest.
"""

from lightcurve_ingest.wiring.quicklook_dag import build_quicklook_dag

dag = build_quicklook_dag()
