"""What each task does, as plain functions of typed payloads and of the clients it is handed (``services``);
no Airflow import."""
