"""Copy NASA light curves (K2, Kepler, TESS) from MAST's public bucket to a destination, verified and catalogued.

A plain package: it imports and tests without a running Airflow. The DAG files in ``dags/`` only call
``dag_factory.build_ingest_dag`` with a mission's name. Layers, each importing only those below it:

* DAGs: ``dag_factory``, ``assets``;
* tasks: ``tasks`` (what each task does), ``params``, ``consumer``, ``connections`` (Airflow connections -> clients);
* domain: ``missions`` (all that differs between missions), ``targets``, ``discovery``, ``copying``, ``verify``,
  ``catalog``, ``payloads``;
* storage and clients: ``storage``, ``source_bucket``, ``destination``, ``tap``, ``mast``, ``http``.
"""
