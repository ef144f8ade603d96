"""Write golden.json: `estimate --json` and `compare --json` of every catalogue device and mode.

Run once (``python tests/hardware_models/golden/make_golden.py``) when the cost model's numbers
change on purpose; test_golden_costs.py checks that the current code reproduces the file.
The run in ``run/`` is a real `train` run (cnn on digits, 2 rounds, full batches only).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIX = "jetson-nano=0.5,snapdragon-865-cpu=0.3,h100=0.2"
COMPARE = ["--model", "cnn", "--batch-size", "8", "--steps", "3", "--sparsity", "0,0.9",
           "--upload", "topk-weights", "--network", "wifi"]


def device_names() -> list[str]:
    """Every name of the grammar that reaches a shipped device (all units, all modes)."""
    from zerofl_profiler.hardware_models import load_catalogue

    return [v for spec in load_catalogue().values() for v in spec.variant_names()]


def cli_json(args: list[str]) -> dict:
    """Run the CLI in-process and parse its one JSON document."""
    from zerofl_profiler.cli import main

    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf):
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    if code:
        raise RuntimeError(f"zerofl-profile {' '.join(args)} exited {code}")
    return json.loads(buf.getvalue())


def pin_host() -> None:
    """`host` resolves to the shipped default, whatever this machine has calibrated."""
    from importlib import resources

    os.environ["ZEROFL_HOST_DEVICE"] = str(resources.files("zerofl_profiler.hardware_models")
                                           .joinpath("catalogue/host.toml"))


def cases() -> dict[str, list[str]]:
    """Argument lists of the golden documents, by key."""
    devs = [a for n in device_names() for a in ("--device", n)]
    run = str(HERE / "run")
    return {"estimate_lte": ["estimate", run, *devs, "--network", "lte", "--json"],
            "estimate_none": ["estimate", run, *devs, "--json"],
            "estimate_mix": ["estimate", run, "--device-mix", MIX, "--network", "lte", "--json"],
            "compare_wifi": ["compare", *COMPARE, *devs, "--json"]}


def main() -> None:
    pin_host()
    out = {k: {"args": [a.replace(str(HERE), "<golden>") for a in args], "doc": cli_json(args)}
           for k, args in cases().items()}
    (HERE / "golden.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'golden.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
