"""Rate limits over Redis (the `limits` library, moving windows), failing open.

A limit that cannot be checked because Redis is down lets the request through with a warning:
a broken Redis must not lock everyone out of their account.
"""

from __future__ import annotations

import logging
import math
import time

import redis
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from api.core.errors import TooManyRequests
from api.core.settings import Settings

log = logging.getLogger(__name__)

KEY_PREFIX = "clustermatch:limits"


class RateLimiter:
    def __init__(self, pool: redis.ConnectionPool, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.storage = RedisStorage("redis://", connection_pool=pool, key_prefix=KEY_PREFIX)
        self._limiter = MovingWindowRateLimiter(self.storage)

    def hit(self, rules: str, *identifiers: str) -> int | None:
        """Count one attempt; the seconds to wait if it went over a limit, else None."""
        return self._check(rules, identifiers, count=True)

    def exceeded(self, rules: str, *identifiers: str) -> int | None:
        """Whether the next attempt would go over (nothing counted): seconds to wait, or None."""
        return self._check(rules, identifiers, count=False)

    def reset(self) -> None:
        self.storage.reset()

    def _check(self, rules: str, identifiers: tuple[str, ...], *, count: bool) -> int | None:
        if not self.enabled:
            return None
        try:
            for item in parse_many(rules):
                allowed = (
                    self._limiter.hit(item, *identifiers) if count else self._limiter.test(item, *identifiers)
                )
                if not allowed:
                    return self._retry_after(item, identifiers)
        except (redis.RedisError, OSError) as exc:
            log.warning("rate limit %s not checked, letting the request through: %s", rules, exc)
        return None

    def _retry_after(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> int:
        reset_at = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def refuse(retry_after: int, what: str) -> TooManyRequests:
    return TooManyRequests(
        f"Too many {what}: wait {retry_after} seconds, then try again.", retry_after=retry_after
    )


class Throttle:
    """The limits of one client address on the account endpoints (API and pages alike)."""

    def __init__(self, limiter: RateLimiter, settings: Settings, address: str) -> None:
        self.limiter, self.settings, self.address = limiter, settings, address

    def before_login(self, email: str) -> None:
        """Every attempt counts, atomically, before the password is checked (so concurrent
        guesses cannot slip past): per address, per account from this address, and per account
        from anywhere under a higher ceiling. An attacker elsewhere thus locks out only its own
        address, not the account's owner, while a guesser spread over many addresses still stops."""
        wait = (
            self.limiter.hit(self.settings.rate_limit_login_per_address, "login-address", self.address)
            or self.limiter.hit(
                self.settings.rate_limit_login_per_account, "login-account", email, self.address
            )
            or self.limiter.hit(self.settings.rate_limit_login_per_account_total, "login-account-all", email)
        )
        if wait:
            raise refuse(wait, "login attempts")

    def password_check(self, user_id: int) -> None:
        """Guesses of the current password with a session in hand (a stolen cookie) are limited too."""
        wait = self.limiter.hit(self.settings.rate_limit_login_per_account, "password-check", str(user_id))
        if wait:
            raise refuse(wait, "password attempts")

    def registration(self) -> None:
        wait = self.limiter.hit(
            self.settings.rate_limit_register_per_address, "register-address", self.address
        )
        if wait:
            raise refuse(wait, "registrations from your address")

    def password_reset(self, email: str) -> bool:
        """Raises for too many requests from the address; False when this account had enough mails."""
        wait = self.limiter.hit(
            self.settings.rate_limit_password_reset_per_address, "reset-address", self.address
        )
        if wait:
            raise refuse(wait, "password reset requests")
        # Silently: a 429 here would tell that the address has an account.
        return (
            self.limiter.hit(self.settings.rate_limit_password_reset_per_account, "reset-account", email)
            is None
        )
