"""Load and validate config.yaml.

A wrong key or value stops with a `ConfigError` naming the key and the file, e.g.
``config.yaml: thresholds.min_group_n: Input should be greater than or equal to 1``.
Unknown keys are refused (``extra="forbid"``) so a typo never passes silently.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yaml"
CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
# Average days in a month (365.25 / 12): how visit dates become months since a programme ended.
DAYS_PER_MONTH = 30.4375


class ConfigError(Exception):
    """config.yaml is missing, unreadable or invalid; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Programme(_Strict):
    code: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    name: str
    name_ur: str = ""  # the name in Urdu (as practices' and hindrances' `label_ur`); empty: `name`
    funder: str = ""
    start_date: dt.date
    end_date: dt.date

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self

    def name_in(self, language: str) -> str:
        return self.name_ur if language == "ur" and self.name_ur else self.name


class Schedule(_Strict):
    months: list[int] = Field(min_length=1)
    window_weeks: int = Field(ge=1, le=26)

    @field_validator("months")
    @classmethod
    def _sorted_from_zero(cls, months: list[int]) -> list[int]:
        if months != sorted(set(months)) or months[0] != 0:
            raise ValueError("must be increasing, without repeats, and start at 0 (the programme end)")
        return months


class Practice(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    label: str
    label_ur: str = ""
    scale_min: int = 1
    scale_max: int = 4
    retained_at: int

    @model_validator(mode="after")
    def _cutoff_on_scale(self):
        if not self.scale_min < self.scale_max:
            raise ValueError("scale_min must be below scale_max")
        if not self.scale_min <= self.retained_at <= self.scale_max:
            raise ValueError(f"retained_at {self.retained_at} is outside the scale {self.scale_min}..{self.scale_max}")
        return self


class Hindrance(_Strict):
    code: str = Field(pattern=CODE_PATTERN)
    label: str
    label_ur: str = ""
    level: Literal["school", "teacher"]


class Thresholds(_Strict):
    min_group_n: int = Field(ge=1)
    at_risk_retention: float = Field(gt=0, lt=1)
    # evidence a school's class needs: P(retention below its programme's) >= this ("decaying"),
    # <= 1 - this ("persisting"); between: "uncertain" (metrics/decay.py persistence)
    class_evidence: float = Field(default=0.8, gt=0.5, lt=1)
    max_file_mb: float = Field(gt=0, le=2048)
    # the command-line import's own cap (it reads CSV streaming, so national exports fit)
    cli_max_file_mb: float = Field(default=20_000, gt=0)


class SurveySource(_Strict):
    group_separator: str = Field(min_length=1, max_length=3)
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)


class TableSource(_Strict):
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    columns: dict[str, str] = Field(default_factory=dict)


class SyncSource(_Strict):
    """A form on a server that `python -m ingest sync --source NAME` pulls from. No secret here:
    only the names of the environment variables that hold them."""
    kind: Literal["kobo", "odk"]
    server: str = Field(pattern=r"^https?://")
    form: str = Field(min_length=1)          # KoboToolbox asset uid / ODK Central xmlFormId
    project: int | None = None               # ODK Central project id (required for odk)
    token_env: str | None = None             # KoboToolbox: variable holding the API token
    username_env: str | None = None          # ODK Central: variables holding the login
    password_env: str | None = None
    page_size: int = Field(default=5000, ge=1, le=30000)

    @model_validator(mode="after")
    def _credentials(self):
        if self.kind == "kobo" and not self.token_env:
            raise ValueError("a kobo source needs token_env (the environment variable holding the API token)")
        if self.kind == "odk" and not (self.project and self.username_env and self.password_env):
            raise ValueError("an odk source needs project, username_env and password_env")
        return self


# SurveyCTO writes dates as "Nov 25, 2026" by default; ISO is accepted too (a form exporting ISO)
SURVEYCTO_DATE_FORMATS = ["%b %d, %Y", "%Y-%m-%d"]


class Sources(_Strict):
    kobo: SurveySource
    odk: SurveySource
    # SurveyCTO strips group paths from its headers; the separator only matters for a mapped export
    surveycto: SurveySource = SurveySource(group_separator="/", date_formats=SURVEYCTO_DATE_FORMATS)
    roster: TableSource = TableSource()
    cop_log: TableSource = TableSource()
    sync: dict[str, SyncSource] = Field(default_factory=dict)


class Pseudonymisation(_Strict):
    salt_env: str = "SUSTAIN_SALT"
    allow_demo_salt: bool = False


class Access(_Strict):
    users: dict[str, list[str]] = Field(default_factory=dict)
    password_file: Path | None = None


class Publish(_Strict):
    """Published versions (README "Serving many users"): imports write a new version beside the
    current one and swap a pointer to it, so dashboard servers never wait for an import."""
    enabled: bool = False
    keep_versions: int = Field(default=3, ge=1)          # the newest versions kept (the current one included)
    grace_seconds: float = Field(default=600, ge=0)      # an older version is removed this long after it was replaced
    table_cache_mb: int = Field(default=2048, ge=0)     # tables each server process holds in memory (app/table_cache.py)


class Config(_Strict):
    version: str = "unversioned"
    database: Path
    publish: Publish = Publish()
    pseudonymisation: Pseudonymisation = Pseudonymisation()
    programmes: list[Programme] = Field(min_length=1)
    schedule: Schedule
    practices: list[Practice] = Field(min_length=1)
    hindrances: list[Hindrance] = Field(min_length=1)
    thresholds: Thresholds
    sources: Sources
    access: Access = Access()
    report_language: Literal["en", "ur"] = "en"
    # where the file came from: relative paths (database) resolve against it
    source_path: Path = Field(default=DEFAULT_CONFIG, exclude=True)

    @model_validator(mode="after")
    def _unique_codes(self):
        for name in ("programmes", "practices", "hindrances"):
            codes = [item.code for item in getattr(self, name)]
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            if repeated:
                raise ValueError(f"{name}: code(s) {', '.join(repeated)} appear more than once")
        return self

    # -- lookups used everywhere ---------------------------------------------------
    @property
    def practice_codes(self) -> list[str]:
        return [p.code for p in self.practices]

    @property
    def hindrance_codes(self) -> list[str]:
        return [h.code for h in self.hindrances]

    @property
    def programme_codes(self) -> list[str]:
        return [p.code for p in self.programmes]

    def programme_name(self, code: str, language: str = "en") -> str:
        """A programme's name in `language` (its code when config has no such programme)."""
        return next((p.name_in(language) for p in self.programmes if p.code == code), code)

    def practice_label(self, code: str, language: str = "en") -> str:
        return _label(self.practices, code, language)

    def hindrance_label(self, code: str, language: str = "en") -> str:
        return _label(self.hindrances, code, language)

    def schedule_params(self) -> dict:
        """The programmes, schedule and practices as the bound parameters the analysis model's and
        the indicators' SQL use (lists, never formatted into SQL)."""
        return {
            "programme_codes": [p.code for p in self.programmes],
            "programme_ends": [p.end_date.isoformat() for p in self.programmes],
            "schedule_months": list(self.schedule.months),
            "days_per_month": DAYS_PER_MONTH,
            "window_days": self.schedule.window_weeks * 7,
            "practice_codes": self.practice_codes,
            "practice_cutoffs": [p.retained_at for p in self.practices],
        }

    def database_path(self, override: str | os.PathLike | None = None) -> Path:
        """--db beats SUSTAIN_DB beats config; relative paths resolve against the config file."""
        chosen = override or os.environ.get("SUSTAIN_DB") or self.database
        path = Path(chosen)
        return path if path.is_absolute() else (self.source_path.parent / path)


def _label(items, code: str, language: str) -> str:
    for item in items:
        if item.code == code:
            return (item.label_ur if language == "ur" and item.label_ur else item.label)
    return code


def _key_path(loc: tuple) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts) or "(top level)"


def parse_yaml(text: str):
    """YAML as Python values, parsed by libyaml when PyYAML has it (about 20x faster than the pure
    Python parser: every import and every test reads config.yaml); the same safe subset either way."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read and validate a config file (default: $SUSTAIN_CONFIG or ./config.yaml of the project)."""
    config_path = Path(path or os.environ.get("SUSTAIN_CONFIG") or DEFAULT_CONFIG).resolve()
    try:
        raw = parse_yaml(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of keys")
    if "source_path" in raw:
        raise ConfigError(f"{config_path}: source_path: not a config key")
    try:
        return Config(**raw, source_path=config_path)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (check the spelling; see README 'Configuration')"
            lines.append(f"{config_path.name}: {_key_path(err['loc'])}: {message}")
        raise ConfigError(f"invalid configuration in {config_path}:\n  " + "\n  ".join(lines)) from None
