"""Send the outbox: hand due queued emails to SendGrid, every few seconds.

The sender commits on its own while it works (crm.email.sender explains why: the
'sending' mark must be on disk before SendGrid is called, so a crash can never send
a message twice); the runner's commit afterwards has nothing left to write.
Each run sends at most MAX_PER_RUN messages, so one run stays short.
"""

from __future__ import annotations

from datetime import datetime

from crm.email.sender import drain

NAME = "send-outbox"
SCHEDULE = {"trigger": "interval", "seconds": 5}
MAX_PER_RUN = 2000


def run(now: datetime) -> int:
    return drain(now, limit=MAX_PER_RUN).handled
