"""Anomaly detectors: each learns a baseline, then alerts with the numbers that made it fire."""
