"""Airflow DAGs <slug>_lightcurve_ingest of every registered mission that has no DAG file of its own.

A mission added to lightcurve_ingest.domain.missions gets its ingest DAG here, with no file to write. A mission whose
``<dag id>.py`` is in this folder (K2, Kepler and TESS: the files their DAGs have always come from) is built
there, not twice. Thin wiring only: the DAGs are built by lightcurve_ingest.wiring.dag_factory.
"""

from pathlib import Path

from lightcurve_ingest.domain.missions import MISSIONS
from lightcurve_ingest.wiring.dag_factory import build_ingest_dag

for mission in MISSIONS.values():
    if not Path(__file__).with_name(f"{mission.dag_id}.py").exists():
        globals()[mission.dag_id] = build_ingest_dag(mission.slug)
