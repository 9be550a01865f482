"""Training sets for transit classifiers: phase-folded, median-binned views of a light curve (AstroNet's global and
local views, ExoMiner's odd, even and secondary views), labels from archive dispositions and a split by star.
Domain code: numpy only, no Airflow, no pandas, no storage."""
