"""`Filters`: one frozen value that turns into a WHERE clause with bound parameters.

Following datasette's filters: identifiers come only from the allow-lists below, values always go
in as bound parameters. A filter on a dimension keeps rows whose value is any of the given ones;
an empty tuple means no filter on it.

Decision on `hindrance`: a teacher belongs to a hindrance group when any of the teacher's visits
reported it. Filtering by hindrance keeps all observations of those teachers (so retention from
month 0 stays defined); grouping `--by hindrance` puts a teacher in every group they belong to.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from sustain.dimensions import by_columns, district_key_sql, filter_dimensions, place_columns, teacher_dimensions

# filter field -> column of the base relations (metrics/base.py), from the catalogue
DIMENSIONS: dict[str, str] = {d.name: d.name for d in filter_dimensions()}
# `--by` columns (README "Command lines"), in their canonical output order
BY_COLUMNS = by_columns()
# dimensions that exist only on practice-level rows
PRACTICE_LEVEL = {d.name for d in filter_dimensions() if d.level == "practice"}
# the teacher-level columns the analysis model's rows carry (programme, gender, subject, ...)
TEACHER_COLUMNS = [d.name for d in teacher_dimensions()]
# months since the programme end; a bound beyond a century is a typo (and must not overflow SQL)
MONTHS_LIMIT = 1200
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,6}")  # ASCII digits only: int() also takes '٣' and '1_0'


class FilterError(ValueError):
    """A filter or --by names a column that is not allowed, or a value of the wrong shape."""


class _FilterMethods:
    """The behaviour of `Filters`; its fields (one tuple of values per catalogue dimension, then
    `months_min`, `months_max`, `scope`) are generated from sustain/dimensions.py below."""

    def __post_init__(self):
        for name in DIMENSIONS:
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise FilterError(f"filter {name} takes text values, got {value!r}")
            object.__setattr__(self, name, tuple(sorted(set(value))))
        if self.scope is not None:
            if isinstance(self.scope, str) or not all(isinstance(v, str) for v in self.scope):
                raise FilterError(f"scope takes a tuple of district names, got {self.scope!r}")
            object.__setattr__(self, "scope", tuple(sorted(set(self.scope))))
        for name in ("months_min", "months_max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise FilterError(f"filter {name} takes a whole number of months, got {value!r}")
            if value is not None and abs(value) > MONTHS_LIMIT:
                raise FilterError(f"filter {name} takes a whole number of months from -{MONTHS_LIMIT} to "
                                  f"{MONTHS_LIMIT}, got {_shorten(str(value))}")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> "Filters":
        """From `COL=VALUE` pairs (the CLI's --where, the URL's query parameters)."""
        values: dict[str, list[str]] = {}
        bounds: dict[str, int] = {}
        for column, value in pairs:
            if column in ("months_min", "months_max"):
                bounds[column] = _months(column, value)
            elif column == "months":
                bounds["months_min"] = bounds["months_max"] = _months(column, value)
            elif column in DIMENSIONS:
                values.setdefault(column, []).append(value)
            else:
                allowed = ", ".join(list(DIMENSIONS) + ["months", "months_min", "months_max"])
                raise FilterError(f"cannot filter on {_shorten(repr(column))}; allowed: {allowed}")
        return cls(**{k: tuple(v) for k, v in values.items()}, **bounds)

    def replace(self, **changes) -> "Filters":
        return dataclasses.replace(self, **changes)

    def place_only(self) -> "Filters":
        """These filters' place (the place dimensions and the viewer's scope), nothing else."""
        return type(self)(**{name: getattr(self, name) for name in place_columns()}, scope=self.scope)

    def as_pairs(self) -> list[tuple[str, str]]:
        pairs = [(name, v) for name in DIMENSIONS for v in getattr(self, name)]
        pairs += [(name, str(getattr(self, name))) for name in ("months_min", "months_max")
                  if getattr(self, name) is not None]
        return pairs

    def describe(self) -> str:
        text = "; ".join(f"{k}={v}" for k, v in self.as_pairs()) or "no filters"
        if self.scope is not None:
            text += f" (limited to the districts {', '.join(self.scope) or '(none)'})"
        return text

    def where(self, level: str = "practice", alias: str = "", hindrance_rows: bool = False,
              hindrance_teachers: str = "teacher_hindrances", keyed: bool = False) -> tuple[str, dict]:
        """(`clause`, params) for the base relation; `level` is "practice" or "visit"
        (visit-level relations have no practice column, so a practice filter is ignored there).
        `hindrance_rows`: the relation has one row per hindrance (grouped by hindrance), so the
        hindrance filter keeps those rows rather than testing teachers' membership.
        `hindrance_teachers`: the relation (teacher_key, hindrance) a teacher's membership is
        tested in (a caller may narrow `teacher_hindrances` to the teachers its rows can hold).
        `keyed`: the relation is one of the analysis model's tables (or carries their
        `district_key`), so a district filter or scope also tests the districts' keys
        (sustain/dimensions.py `district_key_sql`), which DuckDB skips the other districts' row
        groups by; the same rows pass."""
        prefix = f"{alias}." if alias else ""
        clauses, params = [], {}
        for name, column in DIMENSIONS.items():
            values = getattr(self, name)
            if not values or (level == "visit" and name in PRACTICE_LEVEL):
                continue
            key = f"f_{name}"
            params[key] = list(values)
            if name == "hindrance" and not hindrance_rows:
                clauses.append(
                    f"{prefix}teacher_key in (select teacher_key from {hindrance_teachers} "
                    f"where list_contains(${key}, hindrance))"
                )
            else:
                clauses.append(f"list_contains(${key}, {prefix}{column})")
                if keyed and name == "district":
                    clauses.append(_district_keys_clause(key, prefix))
        if self.scope is not None:
            clauses.append(f"list_contains($f_scope, {prefix}district)" if self.scope else "false")
            if self.scope:
                params["f_scope"] = list(self.scope)
                if keyed:
                    clauses.append(_district_keys_clause("f_scope", prefix))
        if self.months_min is not None:
            clauses.append(f"{prefix}months >= $f_months_min")
            params["f_months_min"] = self.months_min
        if self.months_max is not None:
            clauses.append(f"{prefix}months <= $f_months_max")
            params["f_months_max"] = self.months_max
        return (" and ".join(clauses) or "true"), params


# One tuple of text values per dimension; `scope`: the districts the viewer may see (access
# control), set only by server-side code from config, never from widgets or URLs (`from_pairs` does
# not accept it). None: unrestricted; (): nothing.
Filters = dataclasses.make_dataclass(
    "Filters",
    [(name, tuple[str, ...], field(default=())) for name in DIMENSIONS]
    + [("months_min", "int | None", field(default=None)), ("months_max", "int | None", field(default=None)),
       ("scope", "tuple[str, ...] | None", field(default=None))],
    bases=(_FilterMethods,), frozen=True)
Filters.__module__ = __name__
Filters.__doc__ = "Filters on the catalogue's dimensions and the months; see the module's docstring."


def _district_keys_clause(parameter: str, prefix: str) -> str:
    """The rows whose `district_key` is the key of one of the districts of list `$parameter`
    (DuckDB computes the keys once, as constants, and skips row groups by them)."""
    return f"list_contains(list_transform(${parameter}, lambda d: {district_key_sql('d')}), {prefix}district_key)"


def _months(column: str, value) -> int:
    """A month bound from text: an ASCII whole number within +-MONTHS_LIMIT, else FilterError."""
    text = str(value).strip()
    if not _WHOLE_NUMBER.fullmatch(text) or abs(int(text)) > MONTHS_LIMIT:
        raise FilterError(f"{column} takes a whole number of months from -{MONTHS_LIMIT} to {MONTHS_LIMIT}, "
                          f"got {_shorten(repr(value))}")
    return int(text)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_by(by: Iterable[str], allowed: Iterable[str] = BY_COLUMNS) -> list[str]:
    """Validate --by columns against the allow-list; keeps the order given, drops repeats."""
    allowed = list(allowed)
    chosen: list[str] = []
    for column in by:
        column = column.strip()
        if not column:
            continue
        if column not in allowed:
            raise FilterError(f"cannot group by {_shorten(repr(column))}; allowed: {', '.join(allowed)}")
        if column not in chosen:
            chosen.append(column)
    return chosen


def filters_from_mapping(mapping: Mapping[str, Iterable[str] | str]) -> Filters:
    pairs = []
    for key, values in mapping.items():
        for value in ([values] if isinstance(values, str) else values):
            pairs.append((key, value))
    return Filters.from_pairs(pairs)
