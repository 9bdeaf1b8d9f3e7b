"""The mixed rep workload for `bench/load_test.py` (locust, headless).

Each simulated rep signs in with its own API token and, between short pauses:
opens one of its leads (the lead, then its timeline: the lead's touches), logs a call
on it, searches contacts by name, phone or email, and — when the app's OpenAPI document
lists it — asks for the next lead (`POST /api/v1/queue/next`).

Read from the environment (load_test.py sets them): LOADTEST_PLAN (the JSON file of reps,
tokens, leads and search terms), LOADTEST_QUEUE ("1" to include next lead) and
LOADTEST_MAX_REQUESTS (stop after that many requests).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["LOADTEST_PLAN"], encoding="utf-8") as _fh:
    PLAN = json.load(_fh)
QUEUE = os.environ.get("LOADTEST_QUEUE") == "1"
MAX_REQUESTS = int(os.environ.get("LOADTEST_MAX_REQUESTS") or 0)
_next_rep = itertools.count()
_sent = itertools.count(1)


_environment = None


@events.init.add_listener
def _remember_environment(environment, **_kwargs):
    global _environment
    _environment = environment


@events.request.add_listener
def _stop_at_the_request_cap(**_kwargs):
    if MAX_REQUESTS and next(_sent) == MAX_REQUESTS and _environment is not None and _environment.runner:
        gevent.spawn(_environment.runner.quit)


class Rep(FastHttpUser):
    wait_time = between(float(os.environ.get("LOADTEST_WAIT_MIN", "0.05")), float(os.environ.get("LOADTEST_WAIT_MAX", "0.4")))

    def on_start(self):
        self.rep = PLAN["reps"][next(_next_rep) % len(PLAN["reps"])]
        self.headers = {"Authorization": f"Bearer {self.rep['token']}"}
        self.rng = random.Random(self.rep["id"])

    def _lead(self) -> int:
        return self.rng.choice(self.rep["leads"])

    @task(4)
    def open_lead(self):
        lead_id = self._lead()
        self.client.get(f"/api/v1/leads/{lead_id}", headers=self.headers, name="GET /api/v1/leads/<id>")
        self.client.get(f"/api/v1/touches?lead_id={lead_id}&limit=20", headers=self.headers,
                        name="GET /api/v1/touches?lead_id= (timeline)")

    @task(2)
    def log_call(self):
        body = {"lead_id": self._lead(), "channel": "call", "direction": "outbound",
                "outcome": self.rng.choice(["no_answer", "connected", "voicemail", "busy"]),
                "talk_seconds": self.rng.randint(0, 300), "provider": "loadtest", "external_id": uuid.uuid4().hex}
        with self.client.post("/api/v1/touches", json=body, headers=self.headers, name="POST /api/v1/touches",
                              catch_response=True) as resp:
            if resp.status_code != 201:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")

    @task(3)
    def search(self):
        term = self.rng.choice(self.rep["searches"])
        self.client.get("/api/v1/contacts", params={"q": term, "limit": 20}, headers=self.headers,
                        name="GET /api/v1/contacts?q=")

    @task(2)
    def next_lead(self):
        if not QUEUE:
            return
        with self.client.post("/api/v1/queue/next", json={}, headers=self.headers, name="POST /api/v1/queue/next",
                              catch_response=True) as resp:
            if resp.status_code in (200, 201, 204) or (resp.status_code == 404 and '"error"' in (resp.text or "")):
                resp.success()  # "nothing to call now" is an answer, not an error
            else:
                resp.failure(f"{resp.status_code}: {resp.text[:200]}")
