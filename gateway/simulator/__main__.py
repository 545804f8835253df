"""`python -m gateway.simulator --port 8080 --api-key sim-key` (see `cli`)."""

from .cli import main

main()
