"""The salt behind teachers' pseudonymous keys.

A teacher is stored as sha256(salt || ':' || teacher_id), cut to 16 hex characters, computed in
SQL with the salt as a bound parameter. The salt comes from the environment variable named in
config (`pseudonymisation.salt_env`). Only when `allow_demo_salt` is true (the bundled sample
config) does a missing salt fall back to the fixed public DEMO_SALT, and ingest says so.

Where a teacher id would be shown or kept outside the teachers' tables (quarantine, messages),
it is written as `key:<key>` instead. A teacher id cell holding `key:<16 hex>` is read as that key,
so a quarantined row downloaded from the Data page can be fixed and imported again as it is.

The database keeps a fingerprint of the salt (`settings.salt_fingerprint`): sha256 of the salt and
a constant, which tells whether the salt is the same without revealing it. An import under another
salt would match no stored teacher, so it is refused.
"""
from __future__ import annotations

import hashlib
import os

from .config import Config

DEMO_SALT = "sustain-demo-salt-not-secret"
DEMO_SALT_NOTE = ("teachers keyed with the public demo salt (fine for sample data only; set SUSTAIN_SALT "
                  "to a secret salt for real teachers)")
KEY_PREFIX = "key:"
_FINGERPRINT_CONSTANT = ":sustain-salt-check"


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


def salt_fingerprint(salt: str) -> str:
    """A keyed hash of a constant: equal for equal salts, and no help in guessing the salt."""
    return hashlib.sha256((salt + _FINGERPRINT_CONSTANT).encode("utf-8")).hexdigest()


def teacher_key(salt: str, teacher_id: str) -> str:
    """The key of one teacher id, as teacher_key_sql computes it in SQL."""
    value = teacher_id.strip()
    if is_key_cell(value):
        return value[len(KEY_PREFIX):]
    return hashlib.sha256(f"{salt}:{value}".encode("utf-8")).hexdigest()[:16]


def shown_id(salt: str, teacher_id: str) -> str:
    """What is kept or shown in place of a teacher id: `key:<key>` ('' stays '')."""
    return "" if not teacher_id.strip() else KEY_PREFIX + teacher_key(salt, teacher_id)


def is_key_cell(value: str) -> bool:
    return (len(value) == len(KEY_PREFIX) + 16 and value.startswith(KEY_PREFIX)
            and all(c in "0123456789abcdef" for c in value[len(KEY_PREFIX):]))


def teacher_key_sql(column: str) -> str:
    """SQL expression for the key of `column` (an allow-listed identifier); binds `$salt`."""
    return (f"case when regexp_full_match(trim({column}), 'key:[0-9a-f]{{16}}') then substr(trim({column}), 5) "
            f"else substr(sha256($salt || ':' || trim({column})), 1, 16) end")


def shown_id_sql(column: str) -> str:
    """SQL for what is kept in place of the teacher id in `column` (quarantine values): `key:<key>`."""
    return f"case when trim({column}) = '' then '' else 'key:' || {teacher_key_sql(column)} end"
