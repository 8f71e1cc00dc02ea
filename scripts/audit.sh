#!/usr/bin/env bash
# pip-audit over requirements-dev.lock (the runtime lock's versions plus the dev tools, each
# pinned with its hashes): fails on a known vulnerability. Dependencies the vulnerability
# service cannot see are listed, not fatal. The lock, not the venv, is audited: it is what
# every install (and, through functions/requirements.txt, every deploy) gets.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip-audit -r requirements-dev.lock --require-hashes --no-deps --disable-pip \
  --progress-spinner off
