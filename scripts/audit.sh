#!/usr/bin/env bash
# pip-audit over the exact versions installed in .venv (our "lock"): fails on a known
# vulnerability. Dependencies the vulnerability service cannot see are listed, not fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip freeze --exclude-editable > .venv/audit-requirements.txt
.venv/bin/pip-audit -r .venv/audit-requirements.txt --no-deps --progress-spinner off
