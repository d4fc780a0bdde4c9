"""python -m app.users add NAME [--config PATH]: set a local user's password (asked twice).

The hash goes to the file named by `access.password_file`; the user's districts are set in
config under `access.users` (server-side, never by the user).
"""
from __future__ import annotations

import argparse
import getpass
import sys

from .access import password_file, set_password
from sustain.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.users")
    parser.add_argument("action", choices=["add"])
    parser.add_argument("name")
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = password_file(config)
    if path is None:
        print("error: set access.password_file in the config first", file=sys.stderr)
        return 2
    password = getpass.getpass(f"password for {args.name}: ")
    if password != getpass.getpass("again: "):
        print("error: the passwords differ", file=sys.stderr)
        return 2
    try:
        set_password(path, args.name, password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.name not in config.access.users:
        print(f"note: {args.name} has no districts yet: add them under access.users in {config.source_path}")
    print(f"saved {args.name} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
