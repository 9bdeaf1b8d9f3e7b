"""Scheduled jobs, one module per job (see crm/scheduler/runner.py).

Each module exposes ``NAME: str``, ``SCHEDULE: dict`` (APScheduler trigger kwargs,
times in UTC unless the SCHEDULE gives a ``timezone``) and ``run(now) -> int``
(items done). ``run`` calls services, flushes, never commits, and is idempotent.
"""
