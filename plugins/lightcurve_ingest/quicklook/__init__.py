"""Quick-look pictures of light curves: read a FITS file, find its strongest period, draw a PNG, list them all in a
static HTML gallery. Domain code: no Airflow, no storage; the task layer (``tasks.quicklook``) moves the bytes."""
