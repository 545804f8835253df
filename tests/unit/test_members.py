"""The members' side on fakes: Remix, the estimate of the time left, /history pages."""

from __future__ import annotations

import dataclasses

import pytest

from videojobs.errors import NotAllowed, RequestRejected
from videojobs.estimates import MIN_SAMPLES, Estimates, about, time_left, typical
from videojobs.history import History
from videojobs.models import ImageRef, Requester, TaskState, VideoTask

from .harness import ADMIN, ALICE, BOB, REQUEST, Harness

FRAME = ImageRef("https://cdn.test/a.png", "a.png", "image/png", 1000, 640, 480)
LAST = ImageRef("https://cdn.test/b.png", "b.png", "image/png", 1000, 640, 480)


@pytest.fixture
def h() -> Harness:
    return Harness(max_active=0, max_daily=0)


async def test_remix_changes_only_the_text(h: Harness) -> None:
    """The remixed task has the edited prompt and negative prompt, every other setting and
    both frames of the original, and points back at it."""
    request = dataclasses.replace(
        REQUEST, image=FRAME, end_image=LAST, mode="pro", duration=10, negative_prompt="rain"
    )
    original = await h.service.admit_and_send(request, ALICE)
    remix = await h.service.remix(
        original.id, ALICE, prompt="  a dog surfing  ", negative_prompt=None
    )
    assert remix.request == dataclasses.replace(
        request, prompt="a dog surfing", negative_prompt=None
    )
    assert remix.retry_of == original.id and remix.state is TaskState.PENDING


async def test_remix_is_for_the_requester_or_an_admin(h: Harness) -> None:
    """Another member is refused with a message that says who may; an admin may."""
    original = await h.service.admit_and_send(REQUEST, ALICE)
    with pytest.raises(NotAllowed, match="can remix it"):
        await h.service.remix(original.id, BOB, prompt="mine now", negative_prompt=None)
    remix = await h.service.remix(original.id, ADMIN, prompt="fixed", negative_prompt=None)
    assert remix.requester_id == ADMIN.user_id


async def test_remix_goes_through_the_rules_and_limits_of_video() -> None:
    """A blank or too long prompt and a reached limit are refused like /video; nothing is
    stored."""
    h = Harness(max_active=1)
    original = await h.service.admit_and_send(REQUEST, ALICE)
    await h.run_until_idle()
    with pytest.raises(RequestRejected, match="prompt is empty"):
        await h.service.remix(original.id, ALICE, prompt="  ", negative_prompt=None)
    with pytest.raises(RequestRejected, match="negative prompt is 2501"):
        await h.service.remix(original.id, ALICE, prompt="ok", negative_prompt="x" * 2501)
    await h.service.admit_and_send(REQUEST, ALICE)
    with pytest.raises(RequestRejected, match="/cancel"):
        await h.service.remix(original.id, ALICE, prompt="ok", negative_prompt=None)
    assert len(h.store.tasks) == 2


def test_typical_needs_five_and_is_the_median() -> None:
    """No estimate from fewer than five; then the median."""
    assert typical([60.0] * (MIN_SAMPLES - 1)) is None
    assert typical([50.0, 60.0, 70.0, 80.0, 300.0]) == 70.0


def test_time_left_is_conditional_and_never_negative() -> None:
    """The time left counts only the tasks that ran longer than this one so far; past all of
    them there is no number (never a negative one)."""
    durations = [60.0, 70.0, 80.0, 90.0, 100.0]
    assert time_left(durations, 0) == 80.0
    assert time_left(durations, 75) == 15.0  # of 80, 90, 100: 5, 15, 25
    assert time_left(durations, 100) is None
    for elapsed in range(0, 200, 7):
        left = time_left(durations, elapsed)
        assert left is None or left > 0


def test_about_rounds_and_never_says_zero() -> None:
    """Words for a member: rounded, at least ten seconds."""
    assert about(0) == "about 10 s"
    assert about(42) == "about 40 s"
    assert about(58) == "about 1 min"
    assert about(130) == "about 2 min"
    assert about(3600 + 600) == "about 1 h 10 min"


async def test_estimate_appears_with_the_fifth_completed_task_of_the_kind(h: Harness) -> None:
    """Only completed tasks of the same model, mode and duration count; the text says
    'usually' before sending and 'left' while it runs."""
    estimates = Estimates(h.store, h.clock)
    for i in range(MIN_SAMPLES):
        assert await estimates.for_task(await h.service.admit(REQUEST, ALICE)) is None
        task = await h.service.admit_and_send(REQUEST, ALICE)
        h.clock.advance(60 + i)
        await h.run_until_idle()
        assert (await h.store.get(task.id)).state is TaskState.COMPLETED  # type: ignore[union-attr]
    pro = await h.service.admit(dataclasses.replace(REQUEST, mode="pro"), ALICE)
    assert await estimates.for_task(pro) is None
    fresh = await h.service.admit(REQUEST, ALICE)
    first = await estimates.for_task(fresh)
    assert first is not None and first.text.startswith("usually ready in about")
    assert await estimates.for_task(fresh.evolve(wait_reason="the service is down")) is None
    running = fresh.evolve(state=TaskState.RUNNING)
    later = await estimates.for_task(running)
    assert later is not None and later.text.endswith(" left")


async def test_history_pages_newest_first_in_this_server_only(h: Harness) -> None:
    """Ten to a page, newest finish first; another server's and unfinished tasks are left
    out; a page past the end shows the last."""
    elsewhere = Requester(user_id=ALICE.user_id, guild_id=999, channel_id=1)
    finished: list[VideoTask] = []
    for _ in range(23):
        finished.append(await h.service.admit_and_send(REQUEST, ALICE))
        h.clock.advance(1)
        await h.run_until_idle()
    await h.service.admit_and_send(REQUEST, elsewhere)
    await h.service.admit_and_send(REQUEST, BOB)
    await h.run_until_idle()
    await h.service.admit(REQUEST, ALICE)  # unfinished
    history = History(h.store)
    pages = [await history.page(ALICE, n) for n in range(3)]
    assert [len(p.tasks) for p in pages] == [10, 10, 3]
    assert [p.pages for p in pages] == [3, 3, 3] and pages[0].total == 23
    shown = [t.id for p in pages for t in p.tasks]
    assert shown == [t.id for t in reversed(finished)]
    assert not pages[0].has_previous and pages[0].has_next and not pages[2].has_next
    assert (await history.page(ALICE, 7)).page == 2
    assert (await history.page(BOB, 0)).total == 1
