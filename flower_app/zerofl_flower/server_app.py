"""The ServerApp component: our seeded sampler, our aggregation, the same trace files."""

from zerofl_profiler.fl.flower.server_app import make_server_app

app = make_server_app()
