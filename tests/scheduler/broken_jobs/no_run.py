NAME = "no-run"
SCHEDULE = {"trigger": "interval", "minutes": 5}
