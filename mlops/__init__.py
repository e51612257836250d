"""Keel's platform. The Celery app is loaded by MlopsConfig.ready() (and by `celery -A mlops`), not
here, so that importing a pure module of the kit (mlops.hashing, mlops.datafiles.reading) loads
neither Celery nor Django."""
