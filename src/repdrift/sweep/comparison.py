"""Do two sweeps show the same drift? A statistical comparison of their results tables.

The same sweep run on a GPU and on a CPU does not give the same numbers bit for bit — the
products and sums round differently, and a noisy trajectory amplifies the difference — but
it must show the same phenomena. The same holds for the same runs with another noise
construction or another version of repdrift. This module says whether they do, group by
group (learning rule × noise type, as ``sweep inspect`` groups runs):

* **statuses** — how many runs finished ``complete`` rather than ``diverged`` or
  ``silent``;
* **the summary columns** (:data:`repdrift.sweep.summary.COLUMNS`: loss, active fraction,
  fraction of active units, log τ, the Hessian summaries, SI) over the runs both sweeps
  include (those ``collector.py`` kept; ``log_tau`` where both fits succeeded).

**Paired or unpaired.** When both sweeps hold the same run ids with the same rule and noise
type (the same spec, e.g. one sweep on two devices), run *i* of one is compared with run *i*
of the other: the Wilcoxon signed-rank test on the differences (Pratt's handling of zero
differences) and McNemar's exact test on the statuses. Otherwise each group is compared
as two samples: the Mann–Whitney U test and Fisher's exact test.

**What is compared is the runs as they are.** Where the runs' configurations differ, the
differences those cause count: :attr:`Comparison.config_differs` names the configuration
columns that differ on some common run. Two sweeps of one random spec with two sweep seeds
are not a null comparison: each draws one set of parameters (which σ values of a grid,
which tasks), shared by all its runs, and with a hundred runs the tests find the two sets'
difference (measured: ``fig4b-quick`` with seeds 45 and 46, 118 runs each, differed in 4
of 10 tests, the fraction of active units by 0.7 % of its spread). For such a question
compare the runs' parameters too, or fix the plan and vary what is to be compared.

**Verdicts.** All p-values of a comparison are adjusted together for the false-discovery
rate (Benjamini–Hochberg, :func:`scipy.stats.false_discovery_control`); a test whose
adjusted value falls below ``alpha`` says ``differ``. A test on fewer than ``min_runs`` runs
(pairs) says ``too few`` and counts as neither. Each row also gives the size of the shift —
the median paired difference (paired) or the difference of medians (unpaired) — in units of
the column's interquartile range over both sweeps, so that a significant but negligible
shift can be told from a large one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from repdrift.sweep import directory, summary
from repdrift.sweep.spec import SweepError

#: Adjusted p-value under which a test says ``differ``.
ALPHA = 0.05
#: Fewest runs (pairs) in a group for a test to give a verdict.
MIN_RUNS = 6
#: Configuration columns that say where and how a run ran, not what it is.
_NOT_CONFIG = frozenset({"run.checkpoint_every_s"})


@dataclass(frozen=True)
class Test:
    """One test of one group: a summary column or ``status``."""

    rule: str
    noise: str
    column: str
    n: int
    median_a: float | None
    median_b: float | None
    shift: float | None
    relative_shift: float | None
    p: float | None
    q: float | None = None
    verdict: str = "too few"


@dataclass
class Comparison:
    """The outcome of :func:`compare_tables` (``to_dict`` for JSON)."""

    paired: bool
    alpha: float
    common_runs: int
    runs_a: int
    runs_b: int
    finished_a: int
    finished_b: int
    config_differs: list[str]
    tests: list[Test] = field(default_factory=list)
    a: str = "A"
    b: str = "B"
    #: where each sweep's runs were computed (:func:`repdrift.sweep.table.computed_where`;
    #: empty when comparing tables alone)
    computed_on_a: list[dict[str, Any]] = field(default_factory=list)
    computed_on_b: list[dict[str, Any]] = field(default_factory=list)

    @property
    def differing(self) -> list[Test]:
        return [t for t in self.tests if t.verdict == "differ"]

    @property
    def decided(self) -> list[Test]:
        return [t for t in self.tests if t.verdict != "too few"]

    @property
    def shared_groups(self) -> list[tuple[str, str]]:
        """``(rule, noise)`` groups with finished runs in both sweeps."""
        return [
            (t.rule, t.noise)
            for t in self.tests
            if t.column == "status" and t.median_a is not None and t.median_b is not None
        ]

    @property
    def agree(self) -> bool:
        """No test says ``differ``."""
        return not self.differing

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["agree"] = self.agree
        return out


def _finite(values: pd.Series) -> np.ndarray:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return x[np.isfinite(x)]


def _median(x: np.ndarray) -> float | None:
    return float(np.median(x)) if len(x) else None


def _relative(shift: float, pooled: np.ndarray) -> float | None:
    q75, q25 = np.percentile(pooled, [75, 25])
    spread = float(q75 - q25)
    if spread > 0:
        return shift / spread
    return 0.0 if shift == 0 else math.copysign(math.inf, shift)


def _column_test(rule, noise, column, a: np.ndarray, b: np.ndarray, *, paired, min_runs) -> Test:
    """``a`` and ``b``: the column's values (paired: aligned, both finite)."""
    n = len(a) if paired else min(len(a), len(b))
    median_a, median_b = _median(a), _median(b)
    if n == 0:
        return Test(rule, noise, column, 0, median_a, median_b, None, None, None)
    if paired:
        d = b - a
        shift = float(np.median(d))
        p = 1.0 if not np.any(d) else float(stats.wilcoxon(d, zero_method="pratt").pvalue)
    else:
        shift = float(median_b - median_a)
        p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    relative = _relative(shift, np.concatenate([a, b]))
    if n < min_runs:
        return Test(rule, noise, column, n, median_a, median_b, shift, relative, None)
    return Test(rule, noise, column, n, median_a, median_b, shift, relative, p)


def _status_test(rule, noise, a: pd.Series, b: pd.Series, *, paired, min_runs) -> Test:
    """Complete versus diverged or silent, over finished runs (paired: finished in both)."""
    ca = (a == "complete").to_numpy()
    cb = (b == "complete").to_numpy()
    n = len(ca) if paired else min(len(ca), len(cb))
    frac_a = float(ca.mean()) if len(ca) else None
    frac_b = float(cb.mean()) if len(cb) else None
    shift = None if frac_a is None or frac_b is None else frac_b - frac_a
    if paired:
        only_a, only_b = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
        discordant = only_a + only_b
        p = 1.0 if discordant == 0 else float(stats.binomtest(only_a, discordant, 0.5).pvalue)
    elif len(ca) and len(cb):
        table = [[int(ca.sum()), int((~ca).sum())], [int(cb.sum()), int((~cb).sum())]]
        p = float(stats.fisher_exact(table).pvalue)
    else:
        p = None
    if n < min_runs:
        p = None
    return Test(rule, noise, "status", n, frac_a, frac_b, shift, None, p)


def _groups(df: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return dict(zip(df["run"], zip(df["rule"], df["noise"], strict=True), strict=True))


def _config_differs(a: pd.DataFrame, b: pd.DataFrame, common: list[str]) -> list[str]:
    """Configuration columns whose values differ on some common run."""
    columns = sorted(c for c in set(a.columns) | set(b.columns) if "." in c)
    ia, ib = a.set_index("run").loc[common], b.set_index("run").loc[common]
    differs = []
    for c in columns:
        if c in _NOT_CONFIG:
            continue
        if c not in ia.columns or c not in ib.columns:
            differs.append(c)
            continue
        va = ia[c].astype(object).reset_index(drop=True)
        vb = ib[c].astype(object).reset_index(drop=True)
        if not va.equals(vb):
            differs.append(c)
    return differs


def compare_tables(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    alpha: float = ALPHA,
    min_runs: int = MIN_RUNS,
    names: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Compare two sweeps' results tables (as :func:`repdrift.sweep.read_table` returns)."""
    if not 0 < alpha < 1:
        raise SweepError(f"alpha must lie between 0 and 1, not {alpha}")
    if min_runs < 2:
        raise SweepError(f"min_runs must be at least 2, not {min_runs}")
    ga, gb = _groups(a), _groups(b)
    common = [r for r in a["run"] if r in gb]
    paired = bool(common) and set(ga) == set(gb) and all(ga[r] == gb[r] for r in common)
    finished = directory.FINISHED
    out = Comparison(
        paired=paired,
        alpha=alpha,
        common_runs=len(common),
        runs_a=len(a),
        runs_b=len(b),
        finished_a=int(a["status"].isin(finished).sum()),
        finished_b=int(b["status"].isin(finished).sum()),
        config_differs=_config_differs(a, b, common) if common else [],
        a=names[0],
        b=names[1],
    )
    keys = sorted(set(ga.values()) | set(gb.values()))
    ia, ib = a.set_index("run"), b.set_index("run")
    tests = []
    for rule, noise in keys:
        if paired:
            ids = [r for r in common if ga[r] == (rule, noise)]
            both = [
                r for r in ids if ia.at[r, "status"] in finished and ib.at[r, "status"] in finished
            ]
            tests.append(
                _status_test(
                    rule,
                    noise,
                    ia.loc[both, "status"],
                    ib.loc[both, "status"],
                    paired=True,
                    min_runs=min_runs,
                )
            )
            kept = [r for r in both if bool(ia.at[r, "included"]) and bool(ib.at[r, "included"])]
            for column in summary.COLUMNS:
                rows = kept
                if column == "log_tau":
                    rows = [r for r in kept if ia.at[r, "log_tau_ok"] and ib.at[r, "log_tau_ok"]]
                xa = pd.to_numeric(ia.loc[rows, column], errors="coerce").to_numpy(dtype=float)
                xb = pd.to_numeric(ib.loc[rows, column], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(xa) & np.isfinite(xb)
                if not ok.any():
                    continue
                tests.append(
                    _column_test(
                        rule, noise, column, xa[ok], xb[ok], paired=True, min_runs=min_runs
                    )
                )
        else:
            sa = a[(a["rule"] == rule) & (a["noise"] == noise)]
            sb = b[(b["rule"] == rule) & (b["noise"] == noise)]
            fa, fb = sa[sa["status"].isin(finished)], sb[sb["status"].isin(finished)]
            tests.append(
                _status_test(
                    rule, noise, fa["status"], fb["status"], paired=False, min_runs=min_runs
                )
            )
            ka, kb = fa[fa["included"].astype(bool)], fb[fb["included"].astype(bool)]
            for column in summary.COLUMNS:
                ra = ka[ka["log_tau_ok"].astype(bool)] if column == "log_tau" else ka
                rb = kb[kb["log_tau_ok"].astype(bool)] if column == "log_tau" else kb
                xa, xb = _finite(ra[column]), _finite(rb[column])
                if not len(xa) and not len(xb):
                    continue
                tests.append(
                    _column_test(rule, noise, column, xa, xb, paired=False, min_runs=min_runs)
                )
    decided = [i for i, t in enumerate(tests) if t.p is not None]
    if decided:
        q = stats.false_discovery_control([tests[i].p for i in decided], method="bh")
        for i, qi in zip(decided, q, strict=True):
            t = tests[i]
            verdict = "differ" if qi < alpha else "agree"
            tests[i] = Test(**{**asdict(t), "q": float(qi), "verdict": verdict})
    out.tests = tests
    return out


def compare(
    a: str | Path, b: str | Path, *, alpha: float = ALPHA, min_runs: int = MIN_RUNS
) -> Comparison:
    """Compare the sweeps in directories ``a`` and ``b`` (``repdrift sweep compare``).

    Refused (:class:`SweepError`) as ``repdrift sweep inspect`` refuses a sweep some of
    whose runs cannot be read or are gone (:func:`repdrift.sweep.table.checked_table`): its
    table would compare them as they were.
    """
    from repdrift.sweep.table import checked_table, computed_where

    sa, sb = directory.open_sweep(a), directory.open_sweep(b)
    if sa.path.resolve() == sb.path.resolve():
        raise SweepError(f"{sa.path} and {sb.path} are the same sweep; give two")
    ta, tb = checked_table(sa), checked_table(sb)
    names = (str(sa.path), str(sb.path))
    result = compare_tables(ta, tb, alpha=alpha, min_runs=min_runs, names=names)
    result.computed_on_a, result.computed_on_b = computed_where(sa, ta), computed_where(sb, tb)
    return result
