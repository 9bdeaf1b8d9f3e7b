"""The /api/v1 blueprint: bearer-token auth, one error shape, the OpenAPI document.

Features add their routes with ``crm.api.endpoint`` in their own api.py.
"""

from crm.api.blueprint import api_bp, current_api_user, endpoint  # noqa: F401
