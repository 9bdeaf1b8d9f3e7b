"""Every minute: for the catch-up test (a scheduler down an hour runs it once)."""

from tests.scheduler.extra_jobs import mark

NAME = "test-minutely"
SCHEDULE = {"trigger": "interval", "minutes": 1}


def run(now) -> int:
    mark("test.minutely", now)
    return 1
