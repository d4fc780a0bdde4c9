"""In the spirit of datasette's documentation tests: every indicator and every config key is
documented in README.md, and everything documented exists."""
import re
import typing

import pytest
from pydantic import BaseModel

from metrics.registry import INDICATORS
from sustain.config import Config
from support import ROOT_DIR

README = (ROOT_DIR / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def first_column_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([^`]+)`", first_cell))
    return names


def config_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= config_keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_every_indicator_is_documented_and_every_documented_one_exists():
    documented = first_column_names(section("Indicators"))
    assert documented == set(INDICATORS)


def test_every_config_key_is_documented_and_every_documented_one_exists():
    documented = first_column_names(section("Configuration"))
    assert documented == config_keys(Config)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_every_indicator_has_a_docstring(name):
    assert INDICATORS[name].__doc__ and len(INDICATORS[name].__doc__.split()) > 8


def test_config_walker_sees_nested_keys():
    keys = config_keys(Config)
    assert {"thresholds.min_group_n", "sources.kobo.columns", "access.users", "programmes"} <= keys
    assert "source_path" not in keys
    assert typing.get_origin(Config.model_fields["programmes"].annotation) is list


def test_quarantine_rules_of_trust_round_2_are_documented():
    rules = first_column_names(section("Load your own KoboToolbox / ODK exports"))
    assert {"school_mismatch", "valid_from_before_current", "unknown_teacher", "duplicate_teacher"} <= rules
    assert "--allow-reassign" in section("Load your own KoboToolbox / ODK exports")
