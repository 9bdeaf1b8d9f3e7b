"""Gunicorn settings for the load test: only a hook that lets each worker say it has loaded the app.

The load test waits for every worker before it measures (on a busy machine a worker can take
many seconds to import the app), so no figure comes from fewer workers than asked for.
"""

import os
from pathlib import Path


def post_worker_init(worker):
    folder = os.environ.get("LOADTEST_READY_DIR")
    if folder:
        Path(folder, f"worker-{worker.pid}").touch()  # an empty marker file: this worker is ready
