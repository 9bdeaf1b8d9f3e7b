"""Calling the JSON API as a user in tests."""

from __future__ import annotations

from tests import factories as f


class Api:
    def __init__(self, client, user):
        self.client = client
        self.headers = {"Authorization": f"Bearer {f.token(user)}"}

    def get(self, path, **params):
        return self.client.get("/api/v1" + path, headers=self.headers, query_string=params)

    def post(self, path, json=None, **kw):
        return self.client.post("/api/v1" + path, headers=self.headers, json=json, **kw)

    def patch(self, path, json=None):
        return self.client.patch("/api/v1" + path, headers=self.headers, json=json)
