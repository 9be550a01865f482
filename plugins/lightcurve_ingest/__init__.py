"""Copy NASA light curves (K2, Kepler, TESS) from MAST's public bucket to a destination, verified and catalogued.

A plain package: it imports and tests without a running Airflow. The DAG files in ``dags/`` are thin wiring:
each mission's file calls ``dag_factory.build_ingest_dag`` with its slug, ``other_missions_lightcurve_ingest``
builds the ingest DAG of every other registered mission, ``lightcurve_quicklook`` calls
``quicklook_dag.build_quicklook_dag``, and ``lightcurve_catalog_consumer`` is an example downstream DAG.
Layers, each importing only its own and those below it:

* Airflow wiring: ``dag_factory``, ``quicklook_dag``, ``assets``, ``airflow_setup`` (the pool), ``celery_worker``,
  ``worker_preload`` and ``task_usage`` (the workers);
* tasks: ``tasks`` and ``quicklook_tasks`` (what each task does), ``params``, ``consumer``, ``progress``,
  ``connections`` (Airflow connections -> clients);
* domain: ``missions`` (all that differs between missions), ``formats``, ``targets``, ``discovery``, ``mirror``,
  ``copying``, ``verify``, ``catalog``, ``catalog_records``, ``target_status``, ``payloads``, ``quicklook``
  (the plot, the periodogram and the gallery);
* storage and clients: ``storage``, ``source_bucket``, ``destination``, ``tap``, ``mast``, ``sessions``;
* used by every layer: ``settings`` (names and defaults) and ``errors``.
"""
