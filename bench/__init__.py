"""alertbridge against the naive pipeline, side by side (`python -m bench`, `make bench`).

One module per scenario in `bench.scenarios`, the shared harness next to this file, the
runner in `bench.run`.
"""
