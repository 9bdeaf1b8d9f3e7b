"""Breaks the contract at run time: returns text instead of a count."""

NAME = "returns-text"
SCHEDULE = {"trigger": "interval", "minutes": 5}


def run(now):
    return "done"
