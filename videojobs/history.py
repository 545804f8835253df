"""/history: a member's finished tasks in one server, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Requester, VideoTask
from .ports import MemberQueries

PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class HistoryPage:
    tasks: list[VideoTask]
    page: int  # 0-based, clamped to the pages there are
    pages: int  # at least 1
    total: int

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return self.page + 1 < self.pages


class History:
    def __init__(self, store: MemberQueries, *, page_size: int = PAGE_SIZE) -> None:
        self.store = store
        self.page_size = page_size

    async def page(self, requester: Requester, page: int) -> HistoryPage:
        """Page `page` (0-based; past the end: the last page) of the requester's finished
        tasks where they asked (the server, or DMs)."""
        total = await self.store.count_finished(requester.user_id, requester.guild_id)
        pages = max(1, -(-total // self.page_size))
        page = min(max(0, page), pages - 1)
        tasks = await self.store.finished_tasks(
            requester.user_id,
            requester.guild_id,
            offset=page * self.page_size,
            limit=self.page_size,
        )
        return HistoryPage(tasks=tasks, page=page, pages=pages, total=total)
