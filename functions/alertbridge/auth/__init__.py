"""The token endpoint and what it rests on: password hashes, JWT keys, verified tokens."""
