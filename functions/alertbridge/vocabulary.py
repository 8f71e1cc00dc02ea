"""The alert's closed vocabularies, apart from the pydantic model.

The tenants file names severities too; keeping these literals in a module of their own
lets the token function validate its tenants file without building the Alert models.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["firing", "resolved"]
Severity = Literal["critical", "error", "warning", "info"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
ENV_NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,127}$"
"""Names of environment variables that hold secrets (the tenants file names them)."""
