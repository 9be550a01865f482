"""Airflow wiring: the DAG factories, the Assets, the connections that build the clients, the pool, and what the
Celery workers import before they fork. The only layer that imports Airflow's task SDK."""
