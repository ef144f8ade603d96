"""The ClientApp component: trains this SuperNode's partition with the in-process engine's client."""

from zerofl_profiler.fl.flower.client_app import make_client_app

app = make_client_app()
