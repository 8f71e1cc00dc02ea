"""Local tooling: the emulator-backed stack, demo, tail, replay, the sender client.

Installed for development, never uploaded: the deploy archive holds only ``functions/``.
"""
