"""``DiscordSimulator``: a local Discord (REST v10, gateway, CDN) for end-to-end tests.

The real discord.py client talks to it unchanged once its URLs point here (see
``tests/e2e/harness.py``). Tests build a world (guilds, channels, roles, members, attachments),
act as users (``slash``, ``click``, ``select``, ``submit_modal``) and assert on the state and on
the recorded calls.

One object, its methods grouped by responsibility in layers, each building on the one below:
``state`` (what it holds, URLs) < ``store`` (how the bot's requests change it) < ``queries``
(looking, waiting, dumping) < ``world`` (building it) < ``actions`` (users acting) < this module
(serving HTTP and the controls a test turns).
"""

from __future__ import annotations

import time

from aiohttp import web

from ..interactions import SimInteraction
from ..models import SimAttachment
from ..records import CallRecord
from ..rest import RestApi, json_response
from .actions import SimActions


class DiscordSimulator(SimActions):
    """A local Discord for one test. ``await sim.start()`` binds 127.0.0.1 on a free port.

    Timing rules are attributes so a test can tighten them (e.g. ``interaction_deadline``).
    """

    async def start(self) -> DiscordSimulator:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", RestApi(self).handle)
        app.router.add_get("/cdn/{tail:.*}", self._cdn)
        app.router.add_get("/media/{tail:.*}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def expire_interaction_tokens(self, interaction: SimInteraction | None = None) -> None:
        """Age interaction tokens past 15 minutes: followups/edits then get 401 50027."""
        targets = [interaction] if interaction is not None else list(self.interactions.values())
        now = time.monotonic()
        for inter in targets:
            inter.token_expires_at = now - 1

    def expire_attachment_urls(self, attachment: SimAttachment | None = None) -> None:
        """The CDN stops serving these attachments (signed links expired)."""
        targets = [attachment] if attachment is not None else list(self.attachments.values())
        for att in targets:
            att.url_expired = True

    def expire_cdn_links(self, attachment: SimAttachment | None = None) -> None:
        """Time passes beyond the signed links' lifetime (about 24 h): every CDN link handed
        out so far for these attachments answers 404, while the files stay. A message fetched
        (or sent) from now on carries freshly signed links, as Discord does; the links of a
        slash command's own attachments can't be renewed by the bot."""
        targets = [attachment] if attachment is not None else list(self.attachments.values())
        for att in targets:
            self.cdn_links.revoke(att.url, att.proxy_url)
            att.url = self.cdn_links.fresh(att.url, att.id)
            att.proxy_url = self.cdn_links.fresh(att.proxy_url, att.id)

    def enable_rate_limit_headers(self, *, limit: int = 50, window: float = 1.0) -> None:
        """Every response carries X-RateLimit-* headers; going over ``limit`` per ``window``
        seconds in one bucket (route + channel/guild/webhook) answers 429."""
        self.rate_limits.configure(enabled=True, limit=limit, window=window)

    def disable_rate_limit_headers(self) -> None:
        self.rate_limits.configure(
            enabled=False, limit=self.rate_limits.limit, window=self.rate_limits.window
        )

    def inject_rate_limit(
        self,
        route_substring: str,
        count: int = 1,
        retry_after: float = 1.0,
        *,
        scope: str = "user",
        is_global: bool = False,
    ) -> None:
        """The next ``count`` requests whose ``"METHOD /path"`` contains ``route_substring``
        get a real-looking 429 (Retry-After, X-RateLimit-Scope, Via, JSON body)."""
        self.rate_limits.inject(route_substring, count, retry_after, scope, is_global)

    async def gateway_reconnect(self) -> None:
        """Send op 7 RECONNECT: the bot should reconnect and RESUME."""
        await self.gateway.request_reconnect()

    async def gateway_drop(self, code: int = 4000) -> None:
        """Close every gateway connection with ``code`` (4000: resumable)."""
        await self.gateway.drop(code)

    async def gateway_invalidate(self) -> None:
        """Invalidate every session (op 9, not resumable): the bot must IDENTIFY again."""
        await self.gateway.invalidate()

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        record = CallRecord(
            at=time.monotonic(), method=request.method, path=request.path, query=dict(request.query)
        )
        record.route = "cdn"
        response = self._serve_attachment(request)
        record.status = response.status
        self.call_log.append(record)
        self._notify()
        return response

    def _serve_attachment(self, request: web.Request) -> web.Response:
        not_found = web.Response(status=404, text="This content is no longer available.")
        parts = request.path.split("/")
        # /cdn/<kind>/<owner>/<id>/<filename>
        if len(parts) < 6 or not parts[4].isdigit():
            return not_found
        att = self.attachments.get(int(parts[4]))
        if att is None or att.url_expired:
            return not_found
        if not self.cdn_links.valid(att.id, request.query):
            return not_found
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        record = CallRecord(
            at=time.monotonic(), method=request.method, path=request.path, query=dict(request.query)
        )
        record.status = 404
        self.call_log.append(record)
        self.unknown_routes.append(record)
        return json_response(404, {"message": "404: Not Found", "code": 0})
