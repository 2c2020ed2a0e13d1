"""The optional TOTP second factor (RFC 6238, pyotp): secrets, otpauth URIs and checking codes.

A user enrols by scanning the otpauth URI (or typing the secret) into an authenticator app and
confirming with one code; from then on signing in asks for a code after the password (the /login
pages, ``auth/web.py``) and ``POST /api/auth/token`` needs ``totp`` beside the password. A role with
``"require_totp": true`` makes its holders enrol at their next sign-in. An administrator can reset a
user's second factor (``DELETE /api/users/<id>/totp``, ``crm user reset-totp``); the user enrols
again. API tokens issued before enrolment keep working until revoked (docs/access.md).

A code is accepted for the current 30-second step and one step either side (clocks drift), and
each step only once: the last step accepted is stored, so a code seen over a shoulder cannot be
replayed. Wrong codes are rate-limited like passwords (``CRM_SIGNIN_RATE`` per address).
"""
from __future__ import annotations

import time

import pyotp

ISSUER = "CRM"
#: Steps either side of now a code may belong to.
DRIFT = 1


def new_secret() -> str:
    return pyotp.random_base32()


def uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code, *, after: int | None = None, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), if later than ``after``;
    None when the code is wrong, malformed or already used."""
    if not isinstance(code, str):
        return None
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in range(current - DRIFT, current + DRIFT + 1):
        if (after is None or step > after) and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def role_requires(state, roles) -> bool:
    """Whether any active role among ``roles`` says ``require_totp`` (metadata state's roles)."""
    return any(not r.archived and r.doc.get("require_totp") for k, r in state.roles.items() if k in set(roles))
