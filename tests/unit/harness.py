"""The core on fakes, for the unit tests: the in-memory store, the scripted gateway, a recording
notifier and a clock that moves only when told, behind the real VideoJobsService. The `h`
fixture (tests/unit/conftest.py) is a Harness with the default settings."""

from __future__ import annotations

from typing import Any

from tests.fakes import FakeGateway, MemoryStore, RecordingNotifier
from tests.support.clock import FakeClock
from tests.support.passes import run_until_idle
from videojobs.lifecycle import Lifecycle, ServiceConfig
from videojobs.models import Requester, VideoRequest
from videojobs.policy import BotDefaults, Policies
from videojobs.service import VideoJobsService

ALICE = Requester(user_id=1, guild_id=100, channel_id=500)
BOB = Requester(user_id=2, guild_id=100, channel_id=500)
ADMIN = Requester(user_id=3, guild_id=100, channel_id=500, is_admin=True)
REQUEST = VideoRequest(prompt="a cat surfing at sunset", model="kling-v3")


RULES = {"max_active", "max_daily", "allowed_channel_ids", "allowed_role_ids"}


class Harness:
    """`Harness(max_active=1, poll_interval=5, ...)`: rules for BotDefaults, the rest for
    ServiceConfig."""

    def __init__(self, **config: Any) -> None:
        self.clock = FakeClock()
        self.store = MemoryStore()
        self.gateway = FakeGateway()
        self.notifier = RecordingNotifier()
        rules = {key: config.pop(key) for key in RULES & set(config)}
        self.config = ServiceConfig(poll_interval=10, **config)
        self.defaults = BotDefaults(models=("kling-v3", "kling-v2"), **rules)
        self.service = self.new_service()

    def new_service(self) -> VideoJobsService:
        self.store.leases.clear()  # a new process, alone: what the last one held is free
        policies = Policies(self.store, self.defaults, self.clock)
        return VideoJobsService(
            Lifecycle(self.store, self.gateway, self.notifier, self.config, self.clock),
            policies=policies,
        )

    async def run_until_idle(self, passes: int = 50) -> None:
        """Advance time pass by pass until nothing is left to poll or deliver."""
        await run_until_idle(self.service, self.store, self.clock, passes=passes)
