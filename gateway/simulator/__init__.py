"""A local imitation of the video gateway, for tests, benchmarks and try-it-out mode.

It behaves like the gateway of gateway-notes.md (a new-api relay in front of Kling): both API
styles, the three retrieve shapes, both error shapes, Kling's parameter rules and strict
decoding, a relay that refreshes what it shows only on a global tick, and Kling's callbacks.
Completed tasks point at a real, playable mp4 served by the simulator itself.

Prompts steer outcomes: `[fail]` fails later, `[stuck]` never finishes, `[big]` serves an mp4
padded to `big_video_bytes`, `[slow]` takes three times longer, `[policy]` is refused (1301).
Tests steer the rest in-process (`configure`, `add_faults`, `start_outage`,
`refuse_connections`, `requests`) or over HTTP (`control`).

Where each concern lives: `settings` (the knobs: config, faults, outages), `tasks` (the task
model and its timeline), `rules` (Kling's request rules), `error_bodies` and `task_bodies`
(what the gateway answers), `routes` (the API), `callbacks` (Kling's callbacks), `trouble`
(faults and outages), `recording` (the requests seen), `control` (`/_sim/` routes), `server`
(`GatewaySimulator`, putting them together) and `cli` (`python -m gateway.simulator --port
8080 --api-key sim-key`).
"""

from .recording import RecordedRequest
from .routes import POLICY_MESSAGE, SAMPLE_MP4
from .server import GatewaySimulator
from .settings import Fault, Outage, SimulatorConfig
from .tasks import FAILURE_MESSAGE, Outcome, Phase, SimTask

__all__ = [
    "FAILURE_MESSAGE",
    "POLICY_MESSAGE",
    "SAMPLE_MP4",
    "Fault",
    "GatewaySimulator",
    "Outage",
    "Outcome",
    "Phase",
    "RecordedRequest",
    "SimTask",
    "SimulatorConfig",
]
