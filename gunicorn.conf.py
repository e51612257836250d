"""Keel's production web server: `gunicorn` run from the project root reads this file.

Threaded workers keep serving systems' polling connections alive (`keepalive`), and one process per
core keeps a poll's latency flat: more processes than cores only take turns on them (measured in
benchmarks/serving_lists.py, see benchmarks/README.md: p99 of a 304 at 50 clients on 2 cores,
2 workers 15-24 ms, 3 workers 39 ms, 4 workers up to 29 ms). WEB_CONCURRENCY and
GUNICORN_THREADS override the counts.
"""

import os

wsgi_app = "mlops.wsgi:application"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 30
backlog = 2048
