"""Split results with confidence: per arm a Wilson interval, against the control a Newcombe
interval of the difference, a two-sided score test and the Bayesian probability to beat it.

The statistics come from statsmodels and scipy; this module only chooses the methods and words
the verdict. Below `MIN_RUNS_PER_ARM` runs in an arm there is no verdict: early rates swing.
"""

from __future__ import annotations

import math
import warnings

from pydantic import BaseModel

MIN_RUNS_PER_ARM = 100
ALPHA = 0.05  # two-sided; split across the arms compared with the control (Bonferroni)


class ArmResult(BaseModel):
    name: str
    control: bool
    entered: int
    converted: int
    rate: float | None
    rate_low: float | None  # 95 % Wilson interval
    rate_high: float | None
    # Against the control (None for the control itself): rate difference, in proportion points.
    difference: float | None = None
    difference_low: float | None = None  # 95 % Newcombe (hybrid score) interval
    difference_high: float | None = None
    p_value: float | None = None  # two-sided score test of equal rates
    probability_to_beat_control: float | None = None  # Beta(1 + converted, 1 + not converted) posteriors


class Comparison(BaseModel):
    """The result of one split: each arm against the control, and what to conclude."""

    step_id: str
    control: str
    holdout: bool  # the control arm gets nothing from the journey: the difference is its uplift
    arms: list[ArmResult]
    verdict: str
    winner: str | None = None
    # For a holdout: every other arm pooled against it (what the journey as a whole adds).
    uplift: ArmResult | None = None


def rate_interval(converted: int, entered: int) -> tuple[float | None, float | None, float | None]:
    from statsmodels.stats.proportion import proportion_confint

    if entered == 0:
        return None, None, None
    low, high = proportion_confint(converted, entered, alpha=0.05, method="wilson")
    return converted / entered, float(low), float(high)


def probability_to_beat(converted: int, entered: int, control_converted: int, control_entered: int) -> float:
    """P(rate of the arm > rate of the control) under uniform priors, by numerical integration."""
    from scipy import integrate, stats

    arm = stats.beta(1 + converted, 1 + entered - converted)
    control = stats.beta(1 + control_converted, 1 + control_entered - control_converted)
    # P(arm > control) = ∫ f_arm(x) · F_control(x) dx, over where the arm's posterior has mass.
    low, high = arm.ppf(1e-9), arm.ppf(1 - 1e-9)
    value, _ = integrate.quad(lambda x: arm.pdf(x) * control.cdf(x), low, high, limit=200)
    return min(1.0, max(0.0, float(value)))


def _arm(name: str, converted: int, entered: int, *, control: bool) -> ArmResult:
    rate, low, high = rate_interval(converted, entered)
    return ArmResult(
        name=name,
        control=control,
        entered=entered,
        converted=converted,
        rate=rate,
        rate_low=low,
        rate_high=high,
    )


def compare(
    name: str, converted: int, entered: int, control_converted: int, control_entered: int
) -> ArmResult:
    """One arm against the control."""
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    result = _arm(name, converted, entered, control=False)
    if entered == 0 or control_entered == 0:
        return result
    with warnings.catch_warnings():  # rates of 0 or 1: ratios statsmodels reports beside are undefined
        warnings.simplefilter("ignore", RuntimeWarning)
        diff_low, diff_high = confint_proportions_2indep(
            converted, entered, control_converted, control_entered, method="newcomb", compare="diff"
        )
        test = test_proportions_2indep(
            converted, entered, control_converted, control_entered, method="score", compare="diff"
        )
    p_value = float(test.pvalue)
    result.difference = converted / entered - control_converted / control_entered
    result.difference_low, result.difference_high = float(diff_low), float(diff_high)
    # Both rates 0 (or both 1): the test has nothing to tell apart; no evidence of a difference.
    result.p_value = 1.0 if math.isnan(p_value) else p_value
    result.probability_to_beat_control = probability_to_beat(
        converted, entered, control_converted, control_entered
    )
    return result


def compare_arms(
    step_id: str, counts: dict[str, tuple[int, int]], control: str, *, holdout: bool
) -> Comparison:
    """`counts`: arm name -> (entered, converted), in the split's order; `control` one of them."""
    control_entered, control_converted = counts.get(control, (0, 0))
    arms = [_arm(control, control_converted, control_entered, control=True)]
    for name, (entered, converted) in counts.items():
        if name != control:
            arms.append(compare(name, converted, entered, control_converted, control_entered))
    uplift = None
    if holdout and len(arms) > 1:
        treated = [a for a in arms if not a.control]
        uplift = compare(
            "all but the holdout",
            sum(a.converted for a in treated),
            sum(a.entered for a in treated),
            control_converted,
            control_entered,
        )
    verdict, winner = _verdict(arms, uplift, holdout=holdout)
    return Comparison(
        step_id=step_id,
        control=control,
        holdout=holdout,
        arms=arms,
        verdict=verdict,
        winner=winner,
        uplift=uplift,
    )


def chance(probability: float) -> str:
    """A probability in words a marketer reads right: never "100 %" for 0.996."""
    if probability >= 0.995:
        return "> 99 %"
    if probability <= 0.005:
        return "< 1 %"
    return f"{100 * probability:.0f} %"


def _verdict(arms: list[ArmResult], uplift: ArmResult | None, *, holdout: bool) -> tuple[str, str | None]:
    control = arms[0]
    short = [a for a in arms if a.entered < MIN_RUNS_PER_ARM]
    if short:
        need = ", ".join(f"{a.name} {MIN_RUNS_PER_ARM - a.entered}" for a in short)
        return f"not enough data yet: each arm needs {MIN_RUNS_PER_ARM} runs (still to come: {need})", None
    compared = len(arms) - 1
    alpha = ALPHA / max(1, compared)

    def differs(arm: ArmResult, level: float) -> bool:
        return arm.p_value is not None and arm.p_value < level

    better = [a for a in arms[1:] if differs(a, alpha) and (a.difference or 0) > 0]
    worse = [a for a in arms[1:] if differs(a, alpha) and (a.difference or 0) < 0]
    against = "the holdout" if holdout else f"{control.name} (control)"
    if better:
        best = max(better, key=lambda a: a.difference or 0)
        verdict = (
            f"{best.name} wins: {_points(best)} over {against} (p = {best.p_value:.3g}; "
            f"{chance(best.probability_to_beat_control or 0)} probability to beat it)"
        )
        winner: str | None = best.name
    elif worse and len(worse) == compared:
        verdict, winner = f"{control.name} wins: every other arm converts worse than {against}", control.name
    else:
        verdict, winner = f"no clear difference yet (no arm differs from {against} at p < {alpha:.3g})", None
    # Arms that would pass on their own but not with this many arms compared: say so, not nothing.
    for arm in arms[1:]:
        if arm.name != winner and differs(arm, ALPHA) and not differs(arm, alpha):
            verdict += (
                f"; {arm.name} {_points(arm)} (p = {arm.p_value:.3g}) is not yet clear with {compared} "
                f"arms compared with the control (needs p < {alpha:.3g})"
            )
    if uplift is not None and uplift.p_value is not None:
        clear = "" if differs(uplift, ALPHA) else ", not yet clear"
        verdict += (
            f"; the journey as a whole: {_points(uplift)} over the holdout (p = {uplift.p_value:.3g}{clear})"
        )
    return verdict, winner


def _points(arm: ArmResult) -> str:
    return f"{100 * (arm.difference or 0):+.1f} points"
