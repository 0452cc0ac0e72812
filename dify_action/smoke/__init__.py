"""Smoke stage: run a built image, wait until it is ready, run commands in it (``run``)."""
