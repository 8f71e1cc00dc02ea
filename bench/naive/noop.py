"""A no-op functions-framework function: the cold-start floor."""

import functions_framework
from flask import Request


@functions_framework.http
def noop(request: Request) -> tuple[str, int]:
    return "ok", 200
