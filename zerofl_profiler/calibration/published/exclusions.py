"""Exclusion rules for published rows, fixed before any fit (docs/fidelity.md lists them).

A rule names a setup the device model cannot express; every excluded row is counted in the
fidelity summary under its rule, never silently dropped. The first matching rule wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .rows import MODELLED, PublishedRow

#: run directories whose setting the source repository does not document
UNDOCUMENTED_SETUPS = ("MEIZU_Core_f0",)


@dataclass(frozen=True)
class Context:
    """What the rules compare a row with: the catalogue's units, the highest power limit per source file."""

    units: frozenset[tuple[str, str]]
    max_limit_w: Mapping[str, float]

    @staticmethod
    def of(rows: Sequence[PublishedRow], units: frozenset[tuple[str, str]]) -> "Context":
        """The context of a set of rows."""
        lim: dict[str, float] = {}
        for r in rows:
            if r.power_limit_w is not None:
                lim[r.source.file] = max(lim.get(r.source.file, 0.0), r.power_limit_w)
        return Context(units, lim)


@dataclass(frozen=True)
class Rule:
    """One exclusion rule: a name, why it exists, and the test."""

    name: str
    why: str
    test: Callable[[PublishedRow, Context], bool]


RULES: tuple[Rule, ...] = (
    Rule("unknown-device", "the row's device and unit are not in the catalogue",
         lambda r, c: (r.device, r.unit) not in c.units),
    Rule("no-model-definition", "no layer-for-layer definition of the row's network (calibration/published/"
         "models.py), so its work cannot be counted", lambda r, c: r.model not in MODELLED),
    Rule("multi-gpu", "data-parallel training on several GPUs: the model prices one device, not the all-reduce",
         lambda r, c: r.gpus > 1),
    Rule("undocumented-setup", "the source repository does not document the run's setting",
         lambda r, c: any(f"/{d}/" in r.source.file for d in UNDOCUMENTED_SETUPS)),
)


def exclusion_of(row: PublishedRow, ctx: Context) -> str | None:
    """The name of the first rule that excludes ``row``, or None when the row is comparable."""
    for rule in RULES:
        if rule.test(row, ctx):
            return rule.name
    return None
