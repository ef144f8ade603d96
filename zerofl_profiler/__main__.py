"""`python -m zerofl_profiler` == `zerofl-profile`."""

from .cli import main

main()
