"""The one error handler (cogs/errors.py) as a member meets it: a domain error's own words, or
a short generic reply for anything else (logged with the task id); ephemeral, as the first
response or, when the first response is already out, as a followup. Never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cogs.errors import GENERIC

from .harness import BOB, Cogs


async def test_an_error_after_the_first_response_comes_as_an_ephemeral_followup(
    cogs: Cogs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store lost its connection to 10.0.0.5")

    monkeypatch.setattr(cogs.service, "set_location", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.errors"):
        outcome = await cogs.slash("video", prompt="a river at dawn")
    assert outcome.type == 4 and not outcome.ephemeral, "the status embed went out first"
    [followup] = outcome.made("POST", rf"/webhooks/{cogs.app_id}/[^/]+")
    assert followup.body["content"] == GENERIC
    assert followup.body["flags"] & 64
    assert "10.0.0.5" in caplog.text  # logged for the owner, not shown to the member
    [task] = cogs.store.tasks.values()
    assert task.id in caplog.text
    await cogs.service.drain()
    assert len(cogs.gateway.created) == 1, "stored, so it is sent all the same"


async def test_a_button_of_a_task_that_no_longer_exists(cogs: Cogs) -> None:
    _, task = await cogs.video(prompt="soon forgotten")
    cogs.fails(task)
    await cogs.run_until_idle()
    result = cogs.result_message(task)
    del cogs.store.tasks[task.id]
    outcome = await cogs.click(result, f"vb:details:{task.id}", BOB)
    assert outcome.type == 4 and outcome.ephemeral
    assert outcome.text == "That task no longer exists."


async def test_a_button_that_breaks_gets_the_generic_reply(
    cogs: Cogs, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, task = await cogs.video(prompt="a broken retry")
    cogs.fails(task)
    await cogs.run_until_idle()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("gateway_secret")

    monkeypatch.setattr(cogs.service, "retry", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.errors"):
        outcome = await cogs.click(cogs.result_message(task), f"vb:retry:{task.id}")
    assert outcome.type == 4 and outcome.ephemeral and outcome.text == GENERIC
    assert f"component vb:retry:{task.id}" in caplog.text
