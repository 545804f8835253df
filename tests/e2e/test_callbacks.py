"""Callbacks through the real bot: the gateway calls back the URL the bot gave it; that
URL's secret makes the callback trusted, so the video arrives with no poll at all, while a
callback without it is refused."""

from __future__ import annotations

import aiohttp

from tests.support.ports import free_port

from .scenario import MakeScenario


async def test_a_signed_callback_delivers_without_polling(make_scenario: MakeScenario) -> None:
    """Polling every 10 minutes: the video still comes at once, from the callback alone, and
    forged callbacks to the public URL are answered 403."""
    listen = f"127.0.0.1:{free_port()}"
    public = f"http://{listen}/kling/callback"
    s = await make_scenario(
        CALLBACK_PUBLIC_URL=public, CALLBACK_LISTEN=listen, POLL_INTERVAL_SECONDS="600"
    )
    inter = await s.video(prompt="a heron standing in a river")
    result = await s.result(inter, timeout=20)
    assert result.attachments
    (create,) = s.creates()
    sent = create.json["metadata"]["callback_url"]
    assert sent.startswith(public + "/") and sent != public + "/"
    assert s.fetches() == []

    task_id = create.json["metadata"].get("external_task_id") or create.json.get("external_task_id")
    assert task_id
    forged = {
        "task_id": "1",
        "task_status": "failed",
        "task_status_msg": "forged",
        "task_info": {"external_task_id": task_id},
    }
    async with aiohttp.ClientSession() as session:
        for url in (public, f"{public}/{'f' * 32}"):
            async with session.post(url, json=forged) as response:
                assert response.status == 403
    assert "forged" not in s.visible_text()
