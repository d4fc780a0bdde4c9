"""The salt behind teachers' pseudonymous keys.

A teacher is stored as sha256(salt || ':' || teacher_id), cut to 16 hex characters, computed in
SQL with the salt as a bound parameter. The salt comes from the environment variable named in
config (`pseudonymisation.salt_env`). Only when `allow_demo_salt` is true (the bundled sample
config) does a missing salt fall back to the fixed public DEMO_SALT, and ingest says so.
"""
from __future__ import annotations

import os

from .config import Config

DEMO_SALT = "sustain-demo-salt-not-secret"
KEY_SQL = "substr(sha256(? || ':' || trim({column})), 1, 16)"


class SaltMissing(RuntimeError):
    pass


def resolve_salt(config: Config) -> tuple[str, bool]:
    """Return (salt, is_demo_salt)."""
    salt = os.environ.get(config.pseudonymisation.salt_env, "")
    if salt:
        return salt, False
    if config.pseudonymisation.allow_demo_salt:
        return DEMO_SALT, True
    raise SaltMissing(
        f"set the environment variable {config.pseudonymisation.salt_env} to a secret salt "
        f"(config {config.source_path.name}: pseudonymisation.allow_demo_salt is false)"
    )


def teacher_key_sql(column: str) -> str:
    """SQL expression for the key of `column` (an allow-listed identifier); bind the salt first."""
    return KEY_SQL.format(column=column)
