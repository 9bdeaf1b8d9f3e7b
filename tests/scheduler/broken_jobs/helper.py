"""Not a job (no NAME, SCHEDULE or run): discovery leaves it alone."""

ANSWER = 42
