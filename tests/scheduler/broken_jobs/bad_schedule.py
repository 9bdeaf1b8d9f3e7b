NAME = "bad-schedule"
SCHEDULE = {"trigger": "sometimes"}


def run(now) -> int:
    return 0
