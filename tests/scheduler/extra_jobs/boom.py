"""Every second: writes a row, then fails, unless the setting test.boom says "ok"."""

from crm.scheduler.settings import read_setting
from tests.scheduler.extra_jobs import mark

NAME = "test-boom"
SCHEDULE = {"trigger": "interval", "seconds": 1}


def run(now) -> int:
    mark("test.boom", now)  # written, then rolled back with the failure
    if read_setting("test.boom") != "ok":
        raise RuntimeError("boom: the test job fails on purpose")
    return 1
