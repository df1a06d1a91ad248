"""Per-key rate limits with `limits`: in memory by default, shared through Redis when
GOODWILL_REDIS_URL is set so that every replica counts against the same budget."""

import logging
import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string

from app.core.config import Settings
from app.core.errors import RateLimited

log = logging.getLogger("goodwill.ratelimit")


class KeyRateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.item: RateLimitItem = parse(settings.rate_limit)
        storage: Storage
        if settings.redis_url:
            storage = storage_from_string(  # type: ignore[assignment]
                f"async+{settings.redis_url}",
                implementation="redispy",
                socket_connect_timeout=1,
                socket_timeout=1,
            )
        else:
            storage = MemoryStorage()
        self.storage = storage
        self._limit = str(self.item.amount)

    async def check(self, key_id: str, request: Request) -> None:
        """Count the request against the key's fixed window (as `limits`'
        FixedWindowRateLimiter does) and set the RateLimit headers, or refuse it (429).

        The storage is asked directly, twice: the counter's new value and the window's
        expiry. FixedWindowRateLimiter's `hit` and `get_window_stats` make three storage
        calls for the same answer: three Redis round trips per request with Redis."""
        key = self.item.key_for("api_key", key_id)
        try:
            count = await self.storage.incr(key, self.item.get_expiry())
            expires_at = await self.storage.get_expiry(key)
        except Exception:
            # A limiter outage must not take the API down with it: let the request through.
            log.warning("rate limiter unavailable; request allowed", exc_info=True)
            return
        reset = max(0, math.ceil(expires_at - time.time()))
        headers = {
            "RateLimit-Limit": self._limit,
            "RateLimit-Remaining": str(max(0, self.item.amount - count)),
            "RateLimit-Reset": str(reset),
        }
        if count > self.item.amount:
            raise RateLimited(
                f"This API key is limited to {self.item}; retry after {max(1, reset)} s.",
                headers={**headers, "Retry-After": str(max(1, reset))},
            )
        # RequestContextMiddleware puts these on whatever response the request ends with.
        request.state.rate_limit_headers = headers
