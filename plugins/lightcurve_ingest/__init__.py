"""Copy K2 long-cadence light curves from MAST's public bucket to a destination.

A plain package: it imports and tests without a running Airflow. The DAG in
``dags/k2_lightcurve_ingest.py`` only wires its functions into tasks.
"""
