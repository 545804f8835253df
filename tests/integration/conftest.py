"""Fixtures of the integration tests: the gateway simulator on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.simulator import GatewaySimulator, SimulatorConfig
from tests.support.clock import FakeClock

#: the key the `sim` fixture's gateway accepts (distinctive, so a leak of it can be searched)
GATEWAY_KEY = "sk-sim-7d2c9a4e1f"


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[GatewaySimulator]:
    """A started gateway simulator taking GATEWAY_KEY, whose tasks age with `clock`."""
    simulator = GatewaySimulator(SimulatorConfig(api_key=GATEWAY_KEY), clock=clock)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
