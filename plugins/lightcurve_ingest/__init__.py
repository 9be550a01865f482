"""Copy NASA light curves (K2, Kepler, TESS) from MAST's public bucket to a destination, verified and catalogued.

A plain package: it imports and tests without a running Airflow. The DAG files in ``dags/`` are thin wiring: each
mission's file calls ``wiring.dag_factory.build_ingest_dag`` with its slug, ``other_missions_lightcurve_ingest``
builds the ingest DAG of every other registered mission, ``lightcurve_quicklook`` calls
``wiring.quicklook_dag.build_quicklook_dag``, and ``lightcurve_catalog_consumer`` is an example downstream DAG.

Layers, each importing only its own and those below it (tests/test_layers.py checks it; docs/code.md lists every
module):

* ``wiring``: Airflow. The DAG factories, the Assets, the connections that build the clients, the pool, what the
  Celery workers import before they fork, per-task usage logging, and ``consumer`` for downstream readers;
* ``tasks``: what each task does (``ingest``, ``quicklook``), its params, progress lines, and ``services``, the
  clients a task is handed;
* ``domain``: ``missions`` (all that differs between missions), ``formats``, ``targets``, ``discovery``,
  ``mirror``, ``copying``, ``verify``, ``catalog`` with its records, status rules and labelled files, and the
  ``payloads`` the tasks pass each other; ``quicklook`` (the plot, the periodogram, the gallery) beside it;
* ``storage`` (the destination's ``Storage``, its URIs, the public bucket) and ``clients`` (MAST, TAP, HTTP
  sessions);
* used by every layer: ``settings`` (names and defaults) and ``errors``.
"""
