"""The estimate of the time left: learnt from the bot's own finished tasks of the same model,
mode and duration, shown from the fifth on, kept across a restart."""

from __future__ import annotations

import re

from tests.support.discord_sim.interactions import SimInteraction
from tests.support.discord_sim.models import SimMessage

from .scenario import MakeScenario


def first_answer(inter: SimInteraction) -> str:
    """The status embed as the bot first sent it."""
    return str((inter.response_data or {}).get("embeds", ""))


def everything_shown(status: SimMessage) -> str:
    """The status message now and in every edit it had."""
    return status.text + "".join(str(edit.payload) for edit in status.edits)


async def test_the_estimate_appears_after_five_finished_tasks(
    make_scenario: MakeScenario,
) -> None:
    """Five finished tasks show no estimate; the sixth of the same kind says how long it
    usually takes in its first answer, also after a restart; a task of another mode has none
    yet. (Here the sixth is first polled when done, so its status is edited once, to
    completed: the time left while a task runs is shown by
    tests/unit/cogs/test_conformance.py.)"""
    s = await make_scenario(MAX_ACTIVE_TASKS_PER_USER="0", DAILY_TASKS_PER_USER="0")
    statuses: list[SimMessage] = []
    for i in range(5):
        inter = await s.video(prompt=f"a paper plane, take {i}")
        assert "Estimate" not in first_answer(inter)
        await s.result(inter)
        assert inter.original is not None
        statuses.append(inter.original)
    assert not any("Estimate" in everything_shown(m) for m in statuses)

    await s.restart(kill=False)

    other_kind = await s.video(prompt="a paper plane in pro", mode="pro")
    assert "Estimate" not in first_answer(other_kind)
    sixth = await s.video(prompt="a paper plane, take 6")
    assert "usually ready in about" in first_answer(sixth)
    assert sixth.original is not None
    status = sixth.original
    await s.result(sixth)
    await s.discord.wait_for(lambda: "completed" in status.text, message="the final status")
    shown = first_answer(sixth) + everything_shown(status)
    assert "Estimate" not in status.text  # a finished task has no estimate
    amounts = re.findall(r"about (-?\d+) (?:s|min)", shown)
    assert amounts and all(int(a) > 0 for a in amounts)  # never zero or negative
