"""Who may see which districts.

- `access.users` in config maps a user (an OIDC e-mail or a local user name) to the districts
  they may see; `["*"]` means every district. An empty map means the open demo: everyone sees
  everything, and every page says so in a banner.
- Login: Streamlit's `st.login` (OIDC) when `[auth]` is configured in `.streamlit/secrets.toml`;
  otherwise the local user file `access.password_file` (for offline district offices): YAML
  `user: <argon2 hash>`, written by `python -m app.users add NAME` (argon2-cffi, no
  hand-rolled crypto).
- Login throttle: after `MAX_FAILURES` wrong passwords within `FAILURE_WINDOW_SECONDS`, for one
  user name or from one client, that user name (or client) is locked for `LOCKOUT_SECONDS`; while
  locked even the right password is refused. Kept server-side (`LOGIN_THROTTLE`, one per process)
  and logged on the `sustain.access` logger.
- A user's districts come only from this server-side config, never from widgets or URLs. A user
  mapped to no district, or no logged-in user while access is configured, sees nothing.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Hashable

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sustain.config import Config, parse_yaml

EVERY_DISTRICT = "*"
_hasher = PasswordHasher()
log = logging.getLogger("sustain.access")

MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60.0
LOCKOUT_SECONDS = 60.0
_MAX_TRACKED = 10_000  # keys kept before expired ones are swept (bounds memory under a spray)


class LoginThrottle:
    """Failed log-ins per key (("user", name) or ("client", id)); thread-safe, injectable clock."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = FAILURE_WINDOW_SECONDS,
                 lockout_seconds: float = LOCKOUT_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.window, self.lockout, self.clock = max_failures, window_seconds, lockout_seconds, clock
        self._lock = threading.Lock()
        self._failures: dict[Hashable, list[float]] = {}
        self._locked_until: dict[Hashable, float] = {}

    def locked_for(self, *keys: Hashable) -> float:
        """Seconds until every one of `keys` may try again (0: none is locked)."""
        now = self.clock()
        with self._lock:
            return max([self._locked_until.get(k, now) - now for k in keys] + [0.0])

    def failed(self, *keys: Hashable) -> float:
        """Record a failed log-in for each key; returns the lockout it caused (0: none yet)."""
        now = self.clock()
        locked = 0.0
        with self._lock:
            if len(self._failures) > _MAX_TRACKED:
                self._sweep(now)
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.window] + [now]
                if len(recent) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout
                    self._failures.pop(key, None)
                    locked = self.lockout
                    log.warning("login locked for %s s: %d failed attempts for %s", self.lockout, len(recent), key)
                else:
                    self._failures[key] = recent
        return locked

    def succeeded(self, *keys: Hashable) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._locked_until.clear()

    def _sweep(self, now: float) -> None:
        self._failures = {k: v for k, v in self._failures.items() if v and now - v[-1] < self.window}
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}


LOGIN_THROTTLE = LoginThrottle()


def check_login(config: Config, user: str, password: str, client: str,
                throttle: LoginThrottle | None = None) -> tuple[bool, float]:
    """(accepted, seconds locked): the password is not even checked while the user name or the
    client is locked, so guessing on during a lockout learns nothing."""
    throttle = throttle or LOGIN_THROTTLE
    keys = (("user", (user or "").strip()), ("client", client))
    wait = throttle.locked_for(*keys)
    if wait > 0:
        log.warning("login refused (locked for %.0f s more) for user %r from client %s", wait, user, client)
        return False, wait
    if verify_password(config, user, password):
        throttle.succeeded(keys[0])  # only the user's count: a client's own success must not wipe its failures
        log.info("login of user %r from client %s", user, client)
        return True, 0.0
    log.warning("failed login for user %r from client %s", user, client)
    return False, throttle.failed(*keys)


def access_configured(config: Config) -> bool:
    return bool(config.access.users)


def scope_for(config: Config, user: str | None) -> tuple[str, ...] | None:
    """Districts `user` may see: None for every district, () for none."""
    if not access_configured(config):
        return None
    if not user or user not in config.access.users:
        return ()
    districts = config.access.users[user]
    return None if EVERY_DISTRICT in districts else tuple(districts)


def password_file(config: Config) -> Path | None:
    if config.access.password_file is None:
        return None
    path = Path(config.access.password_file)
    return path if path.is_absolute() else config.source_path.parent / path


def _read_hashes(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = parse_yaml(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of user: argon2 hash")
    return {str(k): str(v) for k, v in data.items()}


def verify_password(config: Config, user: str, password: str) -> bool:
    """True when the local user file holds `user` and `password` matches its argon2 hash."""
    path = password_file(config)
    if path is None or not user or not password:
        return False
    stored = _read_hashes(path).get(user)
    if stored is None:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(path: Path, user: str, password: str) -> None:
    """Add or replace `user` in the local user file (only hashes are written)."""
    if len(password) < 10:
        raise ValueError("use a password of at least 10 characters")
    hashes = _read_hashes(path)
    hashes[user] = _hasher.hash(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(hashes, sort_keys=True), encoding="utf-8")
    path.chmod(0o600)
