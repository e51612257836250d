"""The MLflow-compatible REST API: the real `mlflow` client logs to Keel's registry.

The wire layer (errors, auth, fields, base, paging, search_filter, queries) is shared by every MLflow
endpoint; the endpoint modules (experiments, runs, …) call Keel's own services and selectors, so
what the client logs is the same records API v1 and the pages show. Routes: registry/urls/mlflow.py.
"""
