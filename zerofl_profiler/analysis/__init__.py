"""Analyses over recorded runs: what-if re-costing (estimate), summaries, sweeps."""
