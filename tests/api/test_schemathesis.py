"""schemathesis against the whole document (/api/v1 and the webhooks), with an admin's token.

No generated request may get a 500, an undocumented status, or an answer that breaks
the document. Bounded: a fixed number of examples per operation, no example database,
so the run takes seconds, not minutes, on both databases.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from crm.auth.models import Role
from crm.extensions import db
from crm.integrations.models import IntegrationChannel
from tests import factories as f
from tests.integrations.conftest import make_integration, signed_headers

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))  # per operation and mode
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture
def api_token(app, db_session):
    """An admin (who may see everything) and a few records for ids to hit."""
    team = f.team("Fuzz team")
    admin = f.user(Role.ADMIN, team)
    rep = f.user(Role.REP, team)
    for _ in range(3):
        f.lead(owner=rep, team_obj=team)
    db_session.commit()
    return f.token(admin)


def signed_call(client, case, integrations):
    """Post a generated webhook body signed as its integration would, so the body itself is fuzzed."""
    kwargs = case.as_transport_kwargs()
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode()
    else:
        body = kwargs.pop("data", b"") or b""
        body = body.encode() if isinstance(body, str) else body
    integration = integrations[case.path.rsplit("/", 1)[-1]]
    headers = {k: v for k, v in kwargs["headers"].items() if k not in ("X-Touchline-Integration",)}
    headers.update(signed_headers(integration, body))
    if "Content-Type" in kwargs["headers"]:
        headers["Content-Type"] = kwargs["headers"]["Content-Type"]
    response = client.open(case.path, method=case.method, data=body, headers=headers,
                           query_string=kwargs.get("query_string"))
    return response


def test_no_request_breaks_the_api_or_its_document(app, api_token):
    """Every operation, fuzzed; the failures of all operations are reported together."""
    headers = {"Authorization": f"Bearer {api_token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    client = app.test_client()
    integrations = {channel.value: make_integration(channel) for channel in IntegrationChannel}
    db.session.commit()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation, mode in itertools.product(operations, MODES):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def fuzz(case):
            if case.path.startswith("/webhooks/"):
                case.validate_response(signed_call(client, case, integrations), checks=CHECKS)
            else:
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except (Exception, FailureGroup) as exc:  # collect every operation's failures, then fail once
            failures.append(f"{operation.method.upper()} {operation.path} ({mode.value} data): {exc}")
    assert not failures, "\n\n".join(failures)
