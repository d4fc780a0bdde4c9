"""Communities of practice and retention: `retention_by_cop`.

A cluster's community of practice (CoP) is **active** when it meets at least
`ACTIVE_MEETINGS_PER_MONTH` (0.5) times a month, i.e. about every other month; **inactive**
otherwise (no meeting logged included). This is the one definition: here its CoP meeting log,
after the cluster's programme end, averages at least that many meetings per month; the planner
(metrics/planner.py) reads the same threshold as the share of recent visits saying the community
met in the last month (a community meeting every other month has met in half the months). The rate is `cop_activity`'s
`meetings_per_month` by cluster (read through `context.cluster_meetings_per_month`, the same SQL
without the visits' counts): meetings logged after the end over the months elapsed from the
end to the last scheduled round (or today, whichever is first). It is a property of the cluster,
so it is taken over the whole log, whatever the filters; it is not shown, only used to split the
clusters, so cop_activity's suppression (on the number of visits answering the CoP question) is
not applied to it. A cluster with no follow-up visit after month 0 has no rate and is in neither
group.

Then `retention` (as the indicator: of teacher-practices retained at month 0, the share retained
at month t; counts from `indicators.retention_counts`, Wilson 95% interval from
`stats.wilson_interval`) for the teachers of active and of inactive clusters, by `months` and
any other --by columns. Rows are suppressed as every indicator (`base.suppress`: n below
`thresholds.min_group_n`, complementary across `cop` and the other --by columns).

Columns: the --by columns, `cop` ("active" / "inactive"), `months, rate, retained, n, ci_low,
ci_high, clusters` (clusters with teachers in the group), `teachers, suppressed`.

This is a comparison of groups, not an effect: clusters chose (or kept) their CoP, and what made
them keep it may also keep the practices.
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd

from sustain.config import Config

from .base import group_columns, order_rows, school_hierarchy, suppress
from .context import cluster_meetings_per_month
from .filters import BY_COLUMNS, Filters
from .indicators import retention_counts
from .stats import wilson_interval

ACTIVE_MEETINGS_PER_MONTH = 0.5  # the one definition of an active community (docstring above)
ACTIVE, INACTIVE = "active", "inactive"
COP_BY = [c for c in BY_COLUMNS if c != "cluster"]

COLUMNS = ["cop", "months", "rate", "retained", "n", "ci_low", "ci_high", "clusters", "teachers", "suppressed"]


def cluster_cop_class(con: duckdb.DuckDBPyConnection, config: Config, within: Filters | None = None) -> dict[str, str]:
    """cluster -> "active" / "inactive" (see the module docstring); `within`: only the clusters of
    those filters' places (`cluster_meetings_per_month`)."""
    rates = cluster_meetings_per_month(con, config, within)
    return {cluster: ACTIVE if rate >= ACTIVE_MEETINGS_PER_MONTH else INACTIVE
            for cluster, rate in zip(rates["cluster"], rates["meetings_per_month"])}


def retention_by_cop(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config) -> pd.DataFrame:
    """Retention by months for teachers in clusters with an active vs an inactive CoP."""
    by = group_columns(by, COP_BY, always=["months"])
    keys = [c for c in by if c != "months"] + ["cop", "months"]
    values = [c for c in COLUMNS if c not in ("cop", "months")]
    classes = cluster_cop_class(con, config, filters)
    groups = [c for c in by if c != "months"]
    parts = []
    for cop in (ACTIVE, INACTIVE):
        clusters = sorted(c for c, kind in classes.items() if kind == cop
                          and (not filters.cluster or c in filters.cluster))
        if not clusters:
            continue
        within = filters.replace(cluster=tuple(clusters))
        # counted once by cluster, then summed over the clusters: `teachers` adds up too within a
        # round (a teacher has one placed visit per round, so lies in one cluster at it)
        per_cluster = retention_counts(con, within, [*groups, "cluster", "months"], config)
        counts = (per_cluster.groupby(by, dropna=False, sort=False)[["retained", "n", "teachers"]].sum()
                  .reset_index())
        # clusters with teachers in the group (any round)
        present = per_cluster[[*groups, "cluster"]].drop_duplicates()
        if groups:
            per_group = present.groupby(groups, dropna=False).size().rename("clusters").reset_index()
            counts = counts.merge(per_group, on=groups, how="left")
        else:
            counts["clusters"] = len(present)
        parts.append(counts.assign(cop=cop))
    if not parts:
        return pd.DataFrame(columns=[*keys, *values])
    frame = pd.concat(parts, ignore_index=True)
    frame["rate"] = frame["retained"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = wilson_interval(frame["retained"], frame["n"])
    frame = suppress(order_rows(frame, keys), keys, ["rate", "retained", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n, n_column="teachers", hierarchy=school_hierarchy(con))
    return frame[[*keys, *values]]
