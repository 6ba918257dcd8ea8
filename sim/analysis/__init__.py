"""Analyses of finished runs and sweeps (comparison, sensitivity, calibration)."""
