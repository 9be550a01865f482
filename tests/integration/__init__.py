"""Integration tests that run the real Airflow 3 components (api-server, scheduler, dag-processor, Celery worker)."""
