"""A refit and the held-out evaluation start from declared values, never from the catalogue's fitted ones."""

from __future__ import annotations

import tomllib
from importlib import resources

from zerofl_profiler.calibration.published.declared import declared_units
from zerofl_profiler.hardware_models.catalogue import resolve_device


def test_fitted_catalogue_devices_start_the_fit_from_their_prior_file():
    prior_dir = resources.files("zerofl_profiler.calibration.published").joinpath("prior")
    names = sorted(p.name[:-5] for p in prior_dir.iterdir() if p.name.endswith(".toml"))
    assert names, "no prior files"
    for dev in names:
        raw = tomllib.loads(prior_dir.joinpath(f"{dev}.toml").read_text())
        for unit, u in raw["units"].items():
            units = declared_units([(dev, unit)])
            if not units:
                continue
            start = units[(dev, unit)].model
            assert start.eff("gemm") == u["efficiency"]["gemm"]["value"]
    # and the catalogue itself carries the fitted value (kind measured), which differs
    v100 = resolve_device("v100")
    assert v100.eff("gemm") != declared_units([("v100", "gpu")])[("v100", "gpu")].model.eff("gemm")
