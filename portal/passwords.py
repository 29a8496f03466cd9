"""The console password policy: at least MIN_LENGTH characters, not the user name, and not one of the
common passwords breached-password lists start with (portal/common_passwords.txt, bundled: no network
call at sign-up). NIST SP 800-63B: length and a blocklist, no composition rules."""

from __future__ import annotations

import functools
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 1024
_LIST = Path(__file__).with_name("common_passwords.txt")


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, username: str = "") -> str | None:
    """Why this password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if username and username.lower() in lowered:
        return "password must not contain the user name"
    if lowered in common_passwords() or len(set(password)) < 4:
        return "password is too common (it is on breached-password lists)"
    return None


def check_password(password: str, username: str = "") -> None:
    problem = password_problem(password, username)
    if problem:
        raise ValueError(problem)
