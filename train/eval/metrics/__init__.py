"""Metrics with the reference implementations' exact arithmetic; pure Python and NumPy, no torch."""
