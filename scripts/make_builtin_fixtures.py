#!/usr/bin/env python3
"""Writes Tests/SpoolBuiltinsTests/Fixtures/analytics.json: expected results of the analytics
built-ins (descriptive_stats, t_test, correlation, correlation_matrix, anomaly_detection,
forecast) computed with numpy/scipy, or for forecasts with plain Python implementations of the
definitions in docs/builtins.md. Deterministic: fixed seeds, inputs rounded to 3 decimals.

Usage: python3 scripts/make_builtin_fixtures.py   (needs numpy and scipy)
"""
import json
import math
import pathlib

import numpy as np
from scipy import stats

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "SpoolBuiltinsTests" / "Fixtures" / "analytics.json"

rng = np.random.default_rng(20240611)


def sample(n, loc=0.0, scale=1.0, kind="normal"):
    if kind == "normal":
        x = rng.normal(loc, scale, n)
    elif kind == "exponential":
        x = loc + rng.exponential(scale, n)
    else:
        raise ValueError(kind)
    return [round(float(v), 3) for v in x]


def f(v):
    """A finite float for JSON, or None for NaN (undefined statistics)."""
    v = float(v)
    return None if math.isnan(v) else v


cases = []


def case(name, type_, params, expected):
    cases.append({"name": name, "type": type_, "params": params, "expected": expected})


# --- descriptive_stats -------------------------------------------------------------------------

def descriptive(data):
    a = np.asarray(data, dtype=float)
    n = len(a)
    return {
        "count": n,
        "mean": f(np.mean(a)),
        "median": f(np.median(a)),
        "std": f(np.std(a, ddof=1)),
        "variance": f(np.var(a, ddof=1)),
        "min": f(np.min(a)),
        "max": f(np.max(a)),
        "q1": f(np.percentile(a, 25)),
        "q3": f(np.percentile(a, 75)),
        # scipy falls back to the biased value when n is too small to correct; the built-in says null.
        "skewness": f(stats.skew(a, bias=False)) if n >= 3 else None,
        "kurtosis": f(stats.kurtosis(a, bias=False)) if n >= 4 else None,
    }


for name, data in [
    ("integers", [2, 4, 4, 4, 5, 5, 7, 9]),
    ("normal_50", sample(50, 10, 2)),
    ("exponential_31", sample(31, 0, 3, "exponential")),
    ("negative_values", [-3.5, -1.25, 0, 2.75, -8, 4.5, 1]),
    ("large_offset", [1e6 + v for v in [0.125, 0.5, 0.25, 0.875, 0.375, 1.5]]),
    ("two_values", [1.5, 4]),
    ("three_values", [1, 2, 10]),
]:
    case(f"descriptive_{name}", "descriptive_stats", {"data": data}, descriptive(data))

# --- t_test ------------------------------------------------------------------------------------

ALTERNATIVES = ["two-sided", "less", "greater"]


def ttest_expected(res, df, test, alternative):
    return {"statistic": f(res.statistic), "p_value": f(res.pvalue), "df": f(df),
            "test": test, "alternative": alternative}


a1 = sample(12, 0.4, 1)
b1 = sample(15, 1.1, 2)
pre = sample(10, 50, 5)
post = [round(v + d, 3) for v, d in zip(pre, sample(10, 1.5, 2))]
far_a = sample(40, 10, 1)
far_b = sample(35, 0, 1)

for alt in ALTERNATIVES:
    r = stats.ttest_1samp(a1, 0, alternative=alt)
    case(f"t_one_sample_{alt}", "t_test", {"a": a1, "alternative": alt}, ttest_expected(r, r.df, "one_sample", alt))
    r = stats.ttest_1samp(a1, 0.9, alternative=alt)
    case(f"t_one_sample_mu_{alt}", "t_test", {"a": a1, "mu": 0.9, "alternative": alt},
         ttest_expected(r, r.df, "one_sample", alt))
    r = stats.ttest_ind(a1, b1, equal_var=False, alternative=alt)
    case(f"t_welch_{alt}", "t_test", {"a": a1, "b": b1, "alternative": alt}, ttest_expected(r, r.df, "welch", alt))
    r = stats.ttest_ind(a1, b1, equal_var=True, alternative=alt)
    case(f"t_student_{alt}", "t_test", {"a": a1, "b": b1, "equal_var": True, "alternative": alt},
         ttest_expected(r, r.df, "student", alt))
    r = stats.ttest_rel(pre, post, alternative=alt)
    case(f"t_paired_{alt}", "t_test", {"a": pre, "b": post, "paired": True, "alternative": alt},
         ttest_expected(r, r.df, "paired", alt))

# Two-sample test of a hypothesized difference: shifting a by mu is the same test.
r = stats.ttest_ind(np.asarray(a1) - (-0.5), b1, equal_var=False)
case("t_welch_mu", "t_test", {"a": a1, "b": b1, "mu": -0.5}, ttest_expected(r, r.df, "welch", "two-sided"))
r = stats.ttest_rel(np.asarray(pre) - 2.0, post)
case("t_paired_mu", "t_test", {"a": pre, "b": post, "paired": True, "mu": 2.0},
     ttest_expected(r, r.df, "paired", "two-sided"))
# Tiny p-values must still match to relative precision.
r = stats.ttest_ind(far_a, far_b, equal_var=False)
case("t_welch_far_apart", "t_test", {"a": far_a, "b": far_b}, ttest_expected(r, r.df, "welch", "two-sided"))
r = stats.ttest_ind(far_a, far_b, equal_var=False, alternative="less")
case("t_welch_far_apart_less", "t_test", {"a": far_a, "b": far_b, "alternative": "less"},
     ttest_expected(r, r.df, "welch", "less"))

# --- correlation -------------------------------------------------------------------------------

x1 = sample(25, 0, 1)
y1 = [round(0.6 * a + b, 3) for a, b in zip(x1, sample(25, 0, 1))]
x_ties = [1, 2, 2, 3, 4, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10]
y_ties = [2, 1, 3, 3, 5, 4, 4, 6, 8, 7, 7, 9, 8, 10, 12]
x_neg = sample(40, 5, 2)
y_neg = [round(-0.8 * a + b, 3) for a, b in zip(x_neg, sample(40, 0, 1))]
x_weak = sample(8, 0, 1)
y_weak = sample(8, 0, 1)


def correlation_expected(method, x, y):
    if method == "pearson":
        r = stats.pearsonr(x, y)
    elif method == "spearman":
        r = stats.spearmanr(x, y)
    else:
        r = stats.kendalltau(x, y, method="asymptotic")
    return {"coefficient": f(r.statistic), "p_value": f(r.pvalue), "n": len(x), "method": method}


for method in ["pearson", "spearman", "kendall"]:
    for label, x, y in [("noisy_linear", x1, y1), ("ties", x_ties, y_ties),
                        ("negative", x_neg, y_neg), ("weak", x_weak, y_weak)]:
        case(f"correlation_{method}_{label}", "correlation", {"x": x, "y": y, "method": method},
             correlation_expected(method, x, y))
case("correlation_default_method", "correlation", {"x": x1, "y": y1}, correlation_expected("pearson", x1, y1))

# --- correlation_matrix ------------------------------------------------------------------------

columns = {"temperature": sample(20, 20, 5)}
columns["sales"] = [round(3 * t + e, 3) for t, e in zip(columns["temperature"], sample(20, 0, 10))]
columns["rain"] = [round(float(v), 1) for v in rng.integers(0, 6, 20)]  # many ties
columns["alpha"] = sample(20, 0, 1)


def matrix_expected(method, cols):
    names = list(cols)
    rows = []
    for a in names:
        row = []
        for b in names:
            if a == b:
                row.append(1.0)
            elif method == "pearson":
                row.append(f(stats.pearsonr(cols[a], cols[b]).statistic))
            elif method == "spearman":
                row.append(f(stats.spearmanr(cols[a], cols[b]).statistic))
            else:
                row.append(f(stats.kendalltau(cols[a], cols[b]).statistic))
        rows.append(row)
    return {"names": names, "matrix": rows, "method": method, "n": len(cols[names[0]])}


for method in ["pearson", "spearman", "kendall"]:
    case(f"correlation_matrix_{method}", "correlation_matrix", {"columns": columns, "method": method},
         matrix_expected(method, columns))

# --- anomaly_detection -------------------------------------------------------------------------

base = sample(40, 100, 4)
with_outliers = base[:10] + [135.5] + base[10:25] + [61.25] + base[25:] + [128.0]


def anomalies_expected(method, data, threshold=None):
    a = np.asarray(data, dtype=float)
    found = []
    extra = {}
    if method == "zscore":
        t = 3.0 if threshold is None else threshold
        mean, std = np.mean(a), np.std(a, ddof=1)
        for i, v in enumerate(a):
            z = (v - mean) / std
            if abs(z) > t:
                found.append({"index": i, "value": f(v), "score": f(z)})
        extra = {"mean": f(mean), "std": f(std)}
    elif method == "iqr":
        t = 1.5 if threshold is None else threshold
        q1, q3 = np.percentile(a, 25), np.percentile(a, 75)
        lo, hi = q1 - t * (q3 - q1), q3 + t * (q3 - q1)
        for i, v in enumerate(a):
            if v > hi:
                found.append({"index": i, "value": f(v), "score": f(v - hi)})
            elif v < lo:
                found.append({"index": i, "value": f(v), "score": f(v - lo)})
        extra = {"q1": f(q1), "q3": f(q3), "lower_fence": f(lo), "upper_fence": f(hi)}
    else:
        t = 3.5 if threshold is None else threshold
        med = np.median(a)
        mad = np.median(np.abs(a - med))
        for i, v in enumerate(a):
            mz = 0.6745 * (v - med) / mad
            if abs(mz) > t:
                found.append({"index": i, "value": f(v), "score": f(mz)})
        extra = {"median": f(med), "mad": f(mad)}
    return {"anomalies": found, "count": len(found), "method": method, "threshold": t, **extra}


for method, threshold in [("zscore", None), ("zscore", 2.0), ("iqr", None), ("iqr", 3.0),
                          ("mad", None), ("mad", 2.5)]:
    params = {"data": with_outliers, "method": method}
    suffix = "default" if threshold is None else str(threshold).replace(".", "_")
    if threshold is not None:
        params["threshold"] = threshold
    case(f"anomaly_{method}_{suffix}", "anomaly_detection", params,
         anomalies_expected(method, with_outliers, threshold))
case("anomaly_zscore_none", "anomaly_detection", {"data": base, "method": "zscore", "threshold": 4.0},
     anomalies_expected("zscore", base, 4.0))

# --- forecast (plain Python implementations of the definitions) --------------------------------

series = [round(10 + 0.8 * i + float(e), 3) for i, e in enumerate(rng.normal(0, 1.5, 24))]


def forecast_linear(y, h):
    n = len(y)
    tm = (n - 1) / 2
    ym = sum(y) / n
    slope = sum((i - tm) * (v - ym) for i, v in enumerate(y)) / sum((i - tm) ** 2 for i in range(n))
    intercept = ym - slope * tm
    return {"forecast": [intercept + slope * (n + k) for k in range(h)], "method": "linear",
            "slope": slope, "intercept": intercept}


def forecast_moving_average(y, h, window):
    avg = sum(y[-window:]) / window
    return {"forecast": [avg] * h, "method": "moving_average", "window": window}


def forecast_exponential(y, h, alpha):
    level = y[0]
    for v in y[1:]:
        level = alpha * v + (1 - alpha) * level
    return {"forecast": [level] * h, "method": "exponential_smoothing", "level": level, "alpha": alpha}


def forecast_holt(y, h, alpha, beta):
    level, trend = y[0], y[1] - y[0]
    for v in y[1:]:
        previous = level
        level = alpha * v + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
    return {"forecast": [level + k * trend for k in range(1, h + 1)], "method": "holt",
            "level": level, "trend": trend, "alpha": alpha, "beta": beta}


case("forecast_linear", "forecast", {"data": series, "horizon": 5, "method": "linear"},
     forecast_linear(series, 5))
case("forecast_linear_two_points", "forecast", {"data": [3, 5], "horizon": 2, "method": "linear"},
     forecast_linear([3, 5], 2))
case("forecast_moving_average_default", "forecast", {"data": series, "horizon": 3, "method": "moving_average"},
     forecast_moving_average(series, 3, 3))
case("forecast_moving_average_window", "forecast",
     {"data": series, "horizon": 4, "method": "moving_average", "window": 6},
     forecast_moving_average(series, 4, 6))
case("forecast_exponential_default", "forecast",
     {"data": series, "horizon": 3, "method": "exponential_smoothing"}, forecast_exponential(series, 3, 0.3))
case("forecast_exponential_alpha", "forecast",
     {"data": series, "horizon": 2, "method": "exponential_smoothing", "alpha": 0.75},
     forecast_exponential(series, 2, 0.75))
case("forecast_holt_default", "forecast", {"data": series, "horizon": 6, "method": "holt"},
     forecast_holt(series, 6, 0.3, 0.1))
case("forecast_holt_custom", "forecast",
     {"data": series, "horizon": 3, "method": "holt", "alpha": 0.5, "beta": 0.4},
     forecast_holt(series, 3, 0.5, 0.4))

OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps(cases, indent=1, allow_nan=False) + "\n")
print(f"wrote {len(cases)} cases to {OUT.relative_to(ROOT)}")
