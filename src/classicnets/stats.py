"""The one place a comparison is decided: a summary of repeated results (mean, standard
deviation, n) and whether two of them differ at 95% (Welch's t-test, scipy.stats).

A difference "holds" only when both sides have at least two results and Welch's test puts
p below ALPHA. With identical results on each side (sd 0, as deterministic runs give) and
different means, the difference holds without a test: no spread can explain it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.05  # two-sided: a difference holds at 95%


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for n = 1
    n: int

    def text(self, scale: float = 100.0, unit: str = "%") -> str:
        """ "85.3% ± 0.4 (n = 3)"; with n = 1 only the value and n."""
        if self.n == 1:
            return f"{scale * self.mean:.1f}{unit} (n = 1)"
        return f"{scale * self.mean:.1f}{unit} ± {scale * self.sd:.1f} (n = {self.n})"


def summarize(values: list[float]) -> Summary | None:
    """The summary of finite values; None when there are none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    n = len(finite)
    mean = sum(finite) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else 0.0
    return Summary(mean, sd, n)


@dataclass(frozen=True)
class Comparison:
    holds: bool  # the difference holds at 95%
    testable: bool  # both sides have n >= 2
    p: float | None  # Welch's p-value (None: not tested)
    difference: float  # a.mean - b.mean


def compare(a: list[float], b: list[float]) -> Comparison:
    """Does a differ from b? Welch's t-test, two-sided, at ALPHA."""
    sa, sb = summarize(a), summarize(b)
    if sa is None or sb is None:
        raise ValueError("compare: each side needs at least one finite value")
    difference = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        return Comparison(False, False, None, difference)
    if sa.sd == 0 and sb.sd == 0:
        return Comparison(difference != 0, True, 0.0 if difference != 0 else 1.0, difference)
    from scipy import stats

    a_ = [v for v in a if v is not None and math.isfinite(v)]
    b_ = [v for v in b if v is not None and math.isfinite(v)]
    p = float(stats.ttest_ind(a_, b_, equal_var=False).pvalue)
    return Comparison(p < ALPHA, True, p, difference)


def interval(values: list[float], level: float = 1 - ALPHA) -> tuple[float, float] | None:
    """The t-interval of the mean of finite values at `level` (95%): None below n = 2; a
    point where every value is the same (sd 0)."""
    s = summarize(values)
    if s is None or s.n < 2:
        return None
    if s.sd == 0:
        return (s.mean, s.mean)
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, s.n - 1)) * s.sd / math.sqrt(s.n)
    return (s.mean - half, s.mean + half)
