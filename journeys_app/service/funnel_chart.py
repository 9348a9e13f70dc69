"""The report as a picture: the step funnel, and each split's conversion rates with their 95 %
intervals. PNG for `journeys report --chart`, SVG inline in the console."""

from __future__ import annotations

import io
from typing import Literal

from journeys_app.service.report import JourneyReport, VersionReport

Format = Literal["png", "svg"]
INK, REACHED, COMPLETED, WAITING, CONTROL, ARM = (
    "#1d2433",
    "#c9d6ea",
    "#3867b5",
    "#e0a43a",
    "#8a94a6",
    "#3867b5",
)


def chart(report: JourneyReport, fmt: Format = "png") -> bytes:
    """The newest version's funnel and experiments, as one image (an empty report says so)."""
    from matplotlib.figure import Figure  # no pyplot: one figure per call, safe in threads

    version = report.versions[0] if report.versions else None
    experiments = version.experiments if version else []
    panels = 1 + len(experiments)
    steps = version.steps if version else []
    height = max(2.6, 0.38 * len(steps) + 1.4)
    fig = Figure(figsize=(7.5 + 4.2 * len(experiments), height))
    axes = fig.subplots(
        1, panels, squeeze=False, gridspec_kw={"width_ratios": [7.5] + [4.2] * len(experiments)}
    )
    _funnel(axes[0][0], report, version)
    for ax, comparison in zip(axes[0][1:], experiments, strict=True):
        _experiment(ax, comparison)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    return out.getvalue()


def _funnel(ax, report: JourneyReport, version: VersionReport | None) -> None:  # type: ignore[no-untyped-def]
    start = f"{report.since:%Y-%m-%d %H:%M}" if report.since else "the first run"
    window = f"runs started from {start} to {report.until:%Y-%m-%d %H:%M} UTC"
    summary = f" v{version.version}: {version.entered} entered" if version else ": no runs in this window"
    ax.set_title(f"{report.journey_id}{summary}\n{window}", loc="left", color=INK, fontsize=10)
    if version is None or not version.steps:
        ax.axis("off")
        return
    names = [s.step_id for s in version.steps][::-1]
    reached = [s.reached for s in version.steps][::-1]
    completed = [s.completed for s in version.steps][::-1]
    waiting = [s.waiting for s in version.steps][::-1]
    ax.barh(names, reached, color=REACHED, label="reached")
    ax.barh(names, completed, color=COMPLETED, height=0.5, label="completed")
    ax.barh(names, waiting, left=completed, color=WAITING, height=0.5, label="waiting now")
    top = max([*reached, 1])
    for y, n in enumerate(reached):
        share = f" ({n / version.entered:.0%})" if version.entered else ""
        ax.text(n + top * 0.01, y, f"{n}{share}", va="center", color=INK, fontsize=8)
    ax.set_xlim(0, top * 1.25)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    if version.goal is not None and version.goal.rate is not None:
        ax.set_xlabel(
            f"runs · goal {version.goal.event} within {version.goal.within}: "
            f"{version.goal.converted} converted ({version.goal.rate:.1%})"
        )


def _experiment(ax, comparison) -> None:  # type: ignore[no-untyped-def]
    arms = comparison.arms
    ax.set_title(f"split {comparison.step_id}: conversion, 95 % interval", loc="left", color=INK, fontsize=10)
    if not any(a.entered for a in arms):
        ax.axis("off")
        ax.text(0.5, 0.5, "no runs through this split yet", ha="center", va="center", color=INK)
        return
    names = [
        a.name + (" (holdout)" if a.control and comparison.holdout else " (control)" if a.control else "")
        for a in arms
    ]
    rates = [100 * (a.rate or 0) for a in arms]
    lows = [100 * ((a.rate or 0) - (a.rate_low or 0)) for a in arms]
    highs = [100 * ((a.rate_high or 0) - (a.rate or 0)) for a in arms]
    colors = [CONTROL if a.control else ARM for a in arms]
    ax.bar(names, rates, color=colors, yerr=[lows, highs], capsize=5, ecolor=INK)
    top = max([r + h for r, h in zip(rates, highs, strict=True)] + [1.0])
    for x, (rate, arm) in enumerate(zip(rates, arms, strict=True)):
        label = f"{rate:.1f} %\n{arm.converted}/{arm.entered}"
        if rate > top * 0.25:  # inside a tall bar, above a short one
            ax.text(x, rate / 2, label, ha="center", va="center", color="white", fontsize=8)
        else:
            ax.text(x, rate + top * 0.03, label, ha="center", va="bottom", color=INK, fontsize=8)
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("%")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(_wrap(comparison.verdict, 48), fontsize=8, color=INK)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
