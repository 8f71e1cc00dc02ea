"""The alert's closed vocabularies, apart from the pydantic model.

The tenants file names severities too; keeping these literals in a module of their own
lets the token function validate its tenants file without building the Alert models.
"""

from __future__ import annotations

from typing import Literal

Source = Literal["liveramp.subtask", "adobe.flow_run", "informatica.cih"]
Status = Literal["firing", "resolved"]
Severity = Literal["critical", "error", "warning", "info"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
