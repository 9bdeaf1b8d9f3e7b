"""Every second: marks which process ran it."""

from tests.scheduler.extra_jobs import mark

NAME = "test-tick"
SCHEDULE = {"trigger": "interval", "seconds": 1}


def run(now) -> int:
    mark("test.tick", now)
    return 1
