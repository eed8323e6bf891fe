"""Password hashing: Argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).

Hashes written before Argon2 (the old "scrypt$salt$digest" format) still verify, and the
caller rehashes them at the next successful login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's Password Storage Cheat Sheet, first Argon2id option. argon2-cffi's own default
# (64 MiB, 3 passes, 4 lanes) is stronger but took ~0.35 s per login on a 2-core server; raising
# these later is safe: needs_rehash() upgrades each hash at its owner's next login.
_hasher = PasswordHasher(memory_cost=19_456, time_cost=2, parallelism=1)
_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# Verified when the e-mail is unknown, so a login takes the same time either way.
_DUMMY_HASH = _hasher.hash("an unguessable placeholder password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_legacy_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for the legacy format and for Argon2 hashes made with weaker parameters."""
    if not stored.startswith("$argon2id$"):
        return True
    return _hasher.check_needs_rehash(stored)


def burn_verification_time(password: str) -> None:
    """Spend what a real verification costs (for unknown e-mails and disabled accounts)."""
    verify_password(password, _DUMMY_HASH)


def legacy_scrypt_hash(password: str, salt: bytes) -> str:
    """The pre-Argon2 format, kept to build old hashes in tests and migrations."""
    digest = hashlib.scrypt(password.encode(), salt=salt, **_LEGACY_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _verify_legacy_scrypt(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, **_LEGACY_SCRYPT)
    return hmac.compare_digest(digest, expected)
