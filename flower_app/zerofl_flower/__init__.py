"""Flower components of zerofl-profiler (the code is in zerofl_profiler.fl.flower)."""
