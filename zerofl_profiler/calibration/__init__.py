"""Calibrate the host: torch micro-benchmarks -> fitted cost-model parameters -> a device file.

``cases`` (records) and ``fit`` (the least-squares fit) are pure and tested on injected
timings; ``bench``/``steps``/``timing`` time real torch work; ``run`` ties them together and
``device_file`` writes the result in ``hardware_models``' TOML schema. Nothing runs on import.
"""

from .cases import BenchCase, HostParams, single_row
from .fit import FitResult, fit_host, nnls, predict

__all__ = ["BenchCase", "FitResult", "HostParams", "fit_host", "nnls", "predict", "single_row"]
