"""One JSON error shape for every 4xx/5xx, compatible with RFC 6749 §5.2.

``{"error": "<code>", "error_description": "...", "status": 400, "request_id": "...",
"details": [{"field": "envId", "rule": "integer 1-9", "message": "..."}]}``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


@dataclass
class ApiError(Exception):
    """An error answered to the caller; nothing was published."""

    status: int
    error: str
    description: str
    details: list[FieldProblem] = field(default_factory=list)
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.description}"

    def body(self, request_id: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "error": self.error,
            "error_description": self.description,
            "status": self.status,
        }
        if request_id:
            out["request_id"] = request_id
        details = self.details or [FieldProblem(self.default_field, self.error, self.description)]
        out["details"] = [d.as_dict() for d in details]
        return out

    @property
    def default_field(self) -> str:
        """What was wrong when no finer detail was given: every error names a field."""
        return {
            401: "Authorization",
            403: "Tenant-ID",
            404: "path",
            405: "method",
            413: "body",
            415: "Content-Type",
            429: "Tenant-ID",
        }.get(self.status, "request")


def bad_request(description: str, details: list[FieldProblem] | None = None) -> ApiError:
    return ApiError(400, "invalid_request", description, details or [])


def unauthorized(description: str, error: str = "invalid_token") -> ApiError:
    return ApiError(
        401,
        error,
        description,
        [FieldProblem("Authorization", "Bearer <valid, unexpired alertbridge JWT>", description)],
        headers={"WWW-Authenticate": f'Bearer error="{error}"'},
    )


def forbidden(description: str) -> ApiError:
    return ApiError(
        403,
        "insufficient_scope",
        description,
        [FieldProblem("Tenant-ID", "a tenant the token is bound to", description)],
    )


def unavailable(description: str, retry_after: int = 5) -> ApiError:
    return ApiError(503, "unavailable", description, retry_after=retry_after)
