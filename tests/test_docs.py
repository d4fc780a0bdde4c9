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


def test_ci_runs_the_readme_test_command_and_installs_pinned_versions():
    """CI runs exactly the README's test command; both README commands install with the
    constraints file, so a fresh machine gets the versions the suite last passed on."""
    readme = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2, commands
    assert all("-c constraints.txt" in c for c in commands)
    test_command = next(c for c in commands if c.endswith("-m pytest -q"))
    assert test_command in (ROOT_DIR / ".ci" / "run").read_text(encoding="utf-8")
    pinned = {line.split("==")[0].lower() for line in (ROOT_DIR / "constraints.txt").read_text().splitlines() if "==" in line}
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (ROOT_DIR / name).read_text().splitlines():
            if line and not line.startswith("#"):
                package = line.split(">")[0].split("<")[0].split("=")[0].strip().lower()
                assert package in pinned, f"{package} from {name} has no pinned version in constraints.txt"


def test_quarantine_rules_of_trust_round_2_are_documented():
    rules = first_column_names(section("Load your own KoboToolbox / ODK exports"))
    assert {"school_mismatch", "valid_from_before_current", "unknown_teacher", "duplicate_teacher"} <= rules
    assert "--allow-reassign" in section("Load your own KoboToolbox / ODK exports")


def test_readme_states_the_planner_weights_of_the_code():
    """The need score's weights live in metrics/planner.py WEIGHTS; the README and the page's
    explanation say the same numbers."""
    from metrics.planner import SCORE_EXPLANATION, WEIGHTS

    sentence = " ".join(section("The dashboard").split())
    for part, words in [("decay", "decay"), ("hindrances", "hindrances"), ("recency", "months since the last visit"),
                        ("cop", "an inactive community")]:
        assert f"{words} {WEIGHTS[part]:.2f}" in sentence, part
        assert f"{WEIGHTS[part]:.0%}" in SCORE_EXPLANATION
    assert abs(sum(WEIGHTS.values()) - 1) < 1e-12


def test_readme_indicator_table_is_the_definitions_module_rendered():
    """One definition per indicator (metrics/definitions.py); the README shows it, unchanged."""
    from metrics.definitions import DEFINITIONS, markdown_table

    assert set(DEFINITIONS) == set(INDICATORS)
    assert markdown_table() in README


def test_every_indicator_returns_its_documented_columns(sample_db):
    """The columns each function returns (after the --by columns) are the documented ones, in order,
    then `teachers` and `suppressed` (and `note` where a row may carry a reason)."""
    from metrics.definitions import DEFINITIONS
    from metrics.filters import Filters
    from sustain.config import load_config
    from sustain.db import read_only

    with read_only(sample_db) as con:
        for name, function in INDICATORS.items():
            columns = list(function(con, Filters(), [], load_config()).columns)
            documented = list(DEFINITIONS[name].columns)
            own = [c for c in columns if c not in ("teachers", "suppressed", "note") or c in documented]
            leading = [c for c in own if c not in documented]
            assert [c for c in own if c in documented] == documented, name
            assert all(c in ("months", "cluster") for c in leading), (name, leading)


def test_the_pinned_versions_are_the_ones_the_suite_runs_on():
    """constraints.txt is what a fresh install gets: every pin must be the version installed here,
    or CI installs a set the suite never ran on (or one pip cannot resolve)."""
    from importlib import metadata

    for line in (ROOT_DIR / "constraints.txt").read_text().splitlines():
        if "==" not in line:
            continue
        name, version = line.split("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a package only another platform needs
        assert installed == version, f"{name}: constraints.txt pins {version}, {installed} is installed"


def test_readme_lists_the_catalogues_dimensions():
    """The README's `--by` list and the sidebar's list are the catalogue (sustain/dimensions.py) written out."""
    from sustain.dimensions import by_columns, sidebar_dimensions
    flat = " ".join(README.split())
    assert f"`--by` takes `{', '.join(by_columns())}`." in flat
    sidebar = ", ".join(d.label.lower() for d in sidebar_dimensions())
    assert f"one sidebar of filters ({sidebar})" in flat


def test_one_definition_of_an_active_community_of_practice():
    """The communities page, the planner and the README state the same threshold
    (metrics/communities.py ACTIVE_MEETINGS_PER_MONTH)."""
    from metrics import communities, planner

    assert planner.COP_ACTIVE_SHARE is communities.ACTIVE_MEETINGS_PER_MONTH
    rate = f"{communities.ACTIVE_MEETINGS_PER_MONTH:g}"
    sentence = " ".join(README.split())
    assert (f"A community of practice is *active* when it meets at least {rate} times a month: its CoP log "
            f"averages at least {rate} meetings a month after the programme ended (the planner: at least "
            f"{rate} of its recent visits say it met in the last month)") in sentence


def test_readme_names_the_rules_an_unchanged_export_is_not_read_again_for():
    """The rules of the row alone and of the roster (ingest/core.py RULES_OF_THE_ROW_ALONE,
    RULES_OF_THE_ROSTER: a re-read keeps the same rows aside, the latter until a roster changes) are
    the README's lists, each a rule of its quarantine table."""
    import re

    from ingest.core import RULES_OF_THE_ROSTER, RULES_OF_THE_ROW_ALONE

    table = README[README.index("### Rules a row is quarantined for"):]
    table = table[:table.index("\n\n", table.index("| rule |"))]
    for words, rules in (("rules of the row alone", RULES_OF_THE_ROW_ALONE), ("rules of the roster", RULES_OF_THE_ROSTER)):
        listed = re.search(words + r"\s*\(([^)]*)", README).group(1)
        assert re.findall(r"`([a-z_]+)`", listed) == list(rules)
        assert all(f"`{rule}`" in table for rule in rules)
