"""One module per scenario; each adds its rows to the report (bench.run orders them)."""
