"""Who may see which districts.

- `access.users` in config maps a user (an OIDC e-mail or a local user name) to the districts
  they may see; `["*"]` means every district. An empty map means the open demo: everyone sees
  everything, and every page says so in a banner.
- Login: Streamlit's `st.login` (OIDC) when `[auth]` is configured in `.streamlit/secrets.toml`;
  otherwise the local user file `access.password_file` (for offline district offices): YAML
  `user: <argon2 hash>`, written by `python -m sustain.users add NAME` (argon2-cffi, no
  hand-rolled crypto).
- A user's districts come only from this server-side config, never from widgets or URLs. A user
  mapped to no district, or no logged-in user while access is configured, sees nothing.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .config import Config

EVERY_DISTRICT = "*"
_hasher = PasswordHasher()


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
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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
