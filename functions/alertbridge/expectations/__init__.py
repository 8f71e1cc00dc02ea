"""Missing and late runs: a tenant declares the runs it expects (``expectations`` in the
tenants file, ``config.py``); the notifier records every sign of life and a scheduler tick
publishes a firing alert for an expectation that went quiet (``check.py``)."""
