"""The Asset downstream DAGs schedule on: updated whenever new files land in a catalog."""

from airflow.sdk import Asset

CATALOG_ASSET = Asset(name="k2_lightcurve_catalog", uri="k2ingest://catalog/files")
