"""The journey report on 2,000 seeded runs of abandoned_cart with known outcomes: every figure
exact, the intervals and tests as statsmodels and scipy compute them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from scipy import integrate, stats
from statsmodels.stats import proportion

from journeys_app.devtools.report_seed import ArmPlan, CartPlan, seed
from journeys_app.service.experiments import MIN_RUNS_PER_ARM, compare_arms
from journeys_app.service.report import is_holdout, journey_report
from tests.cli import journeys
from tests.store.conftest import Store
from workflows.validation import load_journeys

ROOT = Path(__file__).resolve().parents[2]
PLAN = CartPlan(
    arms={
        "items_waiting": ArmPlan(
            entered=900,
            converted=90,
            waiting=30,
            late_orders=20,
            suppressed=40,
            capped=10,
            degraded=25,
            held=60,
        ),
        "question": ArmPlan(
            entered=900, converted=126, waiting=24, late_orders=5, suppressed=35, degraded=5, held=45
        ),
    },
    bought_first=200,
    before_window=50,
    reviews=[("approved", 30), ("approved", 90), ("rejected", 15), ("pending", None)],
)


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    return load_journeys(ROOT / "journeys", None)["abandoned_cart"].spec


def wilson(k: int, n: int) -> tuple[float, float]:
    low, high = proportion.proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def beat(k: int, n: int, ck: int, cn: int) -> float:
    arm, control = stats.beta(1 + k, 1 + n - k), stats.beta(1 + ck, 1 + cn - ck)
    return integrate.quad(lambda x: arm.pdf(x) * control.cdf(x), 0, 1, limit=200)[0]


async def test_every_figure_of_2000_runs(store: Store, spec) -> None:  # type: ignore[no-untyped-def]
    async with store.sessionmaker() as session, session.begin():
        assert await seed(session, PLAN) == 2050
    report = await journey_report(store.sessionmaker, "abandoned_cart", spec, since=PLAN.start)
    assert [v.version for v in report.versions] == [1]
    v = report.versions[0]
    # 200 bought during the first wait, 900 + 900 split; 30 + 24 still wait after the reminder.
    assert (v.entered, v.running, v.completed, v.exited, v.failed) == (2000, 54, 1946, 0, 0)
    assert v.outcomes == {
        "timed_out": 1530,
        "recovered_after_reminder": 216,
        "purchased_without_reminder": 200,
    }
    funnel = {s.step_id: (s.type, s.reached, s.completed, s.failed, s.waiting) for s in v.steps}
    assert list(funnel) == [s.id for s in spec.steps]
    assert funnel == {
        "wait_purchase": ("wait_for_event", 2000, 2000, 0, 0),
        "bought": ("exit", 200, 200, 0, 0),
        "subject_test": ("split", 1800, 1800, 0, 0),
        "reminder": ("generate_copy", 1800, 1800, 0, 0),
        "send_reminder": ("send", 1800, 1800, 0, 0),
        "wait_after_reminder": ("wait_for_event", 1800, 1746, 0, 54),
        "recovered": ("exit", 216, 216, 0, 0),
    }
    # Goal: the 200 early buyers and 216 recovered; the 25 orders after the 3-day window are not.
    assert v.goal is not None
    assert (v.goal.event, v.goal.within, v.goal.runs, v.goal.converted) == (
        "order_completed",
        "3d",
        2000,
        416,
    )
    assert v.goal.rate == 416 / 2000
    assert (v.goal.rate_low, v.goal.rate_high) == pytest.approx(wilson(416, 2000), abs=1e-12)
    assert v.messages == {
        "sent": 1715,
        "queued": 0,
        "sending": 0,
        "failed": 0,
        "unconfirmed": 0,
        "suppressed_consent": 75,
        "suppressed_cap": 10,
        "suppressed_other": 0,
        "held_for_quiet_hours": 105,
    }
    assert [(r.status, r.count, r.mean_minutes_to_decision) for r in v.reviews] == [
        ("approved", 2, 60.0),
        ("pending", 1, None),
        ("rejected", 1, 15.0),
    ]
    assert (v.model_calls, v.degraded_calls, v.degraded_share) == (1800, 30, 30 / 1800)

    [experiment] = v.experiments
    assert (experiment.step_id, experiment.control, experiment.holdout) == (
        "subject_test",
        "items_waiting",
        False,
    )
    control, question = experiment.arms
    assert (control.name, control.control, control.entered, control.converted) == (
        "items_waiting",
        True,
        900,
        90,
    )
    assert control.rate == 0.1 and (control.rate_low, control.rate_high) == pytest.approx(
        wilson(90, 900), abs=1e-12
    )
    assert control.difference is None and control.p_value is None
    assert (question.name, question.entered, question.converted, question.rate) == (
        "question",
        900,
        126,
        0.14,
    )
    assert (question.rate_low, question.rate_high) == pytest.approx(wilson(126, 900), abs=1e-12)
    assert question.difference == pytest.approx(0.04, abs=1e-12)
    newcombe = proportion.confint_proportions_2indep(126, 900, 90, 900, method="newcomb", compare="diff")
    assert (question.difference_low, question.difference_high) == pytest.approx(newcombe, abs=1e-12)
    score = proportion.test_proportions_2indep(126, 900, 90, 900, method="score", compare="diff")
    assert question.p_value == pytest.approx(score.pvalue, abs=1e-12)
    assert 0.005 < question.p_value < 0.05
    assert question.probability_to_beat_control == pytest.approx(beat(126, 900, 90, 900), abs=1e-6)
    assert experiment.winner == "question"
    assert experiment.verdict.startswith("question wins: +4.0 points over items_waiting (control)")

    # Without --since, the 50 runs of the week before count too (they bought before the reminder).
    everything = await journey_report(store.sessionmaker, "abandoned_cart", spec)
    assert everything.versions[0].entered == 2050
    assert everything.versions[0].outcomes["purchased_without_reminder"] == 250
    # A window with no runs is an empty report, not an error.
    later = await journey_report(
        store.sessionmaker, "abandoned_cart", spec, since=PLAN.start + timedelta(days=30)
    )
    assert later.versions == []


async def test_an_arm_below_the_minimum_gets_no_verdict(store: Store, spec) -> None:  # type: ignore[no-untyped-def]
    plan = CartPlan(
        arms={
            "items_waiting": ArmPlan(entered=60, converted=30),
            "question": ArmPlan(entered=40, converted=2),
        }
    )
    async with store.sessionmaker() as session, session.begin():
        await seed(session, plan)
    [experiment] = (await journey_report(store.sessionmaker, "abandoned_cart", spec)).versions[0].experiments
    assert experiment.winner is None
    assert experiment.verdict == (
        f"not enough data yet: each arm needs {MIN_RUNS_PER_ARM} runs "
        "(still to come: items_waiting 40, question 60)"
    )


def test_a_holdout_arm_gives_the_uplift_of_the_journey(tmp_path: Path) -> None:
    journey = (ROOT / "journeys" / "abandoned_cart.yaml").read_text()
    journey = journey.replace(
        "      - { name: question, weight: 50, goto: reminder }",
        "      - { name: question, weight: 40, goto: reminder }\n"
        "      - { name: holdout, weight: 10, goto: bought }",
    ).replace("    type: split\n", "    type: split\n    control: holdout\n")
    (tmp_path / "abandoned_cart.yaml").write_text(journey)
    spec = load_journeys(tmp_path, None)["abandoned_cart"].spec
    split = spec.step_map()["subject_test"]
    assert split.control == "holdout" and is_holdout(spec, split)
    counts = {"items_waiting": (500, 60), "question": (400, 52), "holdout": (100, 5)}
    result = compare_arms("subject_test", counts, "holdout", holdout=True)
    assert [a.name for a in result.arms] == ["holdout", "items_waiting", "question"]
    assert result.uplift is not None
    assert (result.uplift.entered, result.uplift.converted) == (900, 112)
    pooled = proportion.confint_proportions_2indep(112, 900, 5, 100, method="newcomb", compare="diff")
    assert (result.uplift.difference_low, result.uplift.difference_high) == pytest.approx(pooled, abs=1e-12)
    # Two arms against the control: each is tested at 0.05 / 2; the one just short of it is named.
    assert result.winner == "question"
    assert result.verdict == (
        "question wins: +8.0 points over the holdout (p = 0.0245; 99 % probability to beat it); "
        "items_waiting +7.0 points (p = 0.0399) is not yet clear with 2 arms compared with the control "
        "(needs p < 0.025); the journey as a whole: +7.4 points over the holdout (p = 0.0281)"
    )


def test_a_control_that_is_not_an_arm_is_refused(tmp_path: Path) -> None:
    from workflows.validation import SpecError

    journey = (ROOT / "journeys" / "abandoned_cart.yaml").read_text()
    (tmp_path / "abandoned_cart.yaml").write_text(
        journey.replace("    type: split\n", "    type: split\n    control: nobody\n")
    )
    with pytest.raises(
        SpecError, match="control 'nobody' is not one of this split's paths: items_waiting, question"
    ):
        load_journeys(tmp_path, None)


async def test_journeys_report_json_chart_and_bad_input(tmp_path: Path) -> None:
    """The command a marketer runs: the same figures as JSON, a chart file, clear refusals."""
    from journeys_app.core.settings import Settings
    from journeys_app.store.engine import open_database

    env = {"JOURNEYS_STATE_DIR": str(tmp_path / "state"), "JOURNEYS_JOURNEYS_DIR": str(ROOT / "journeys")}
    async with open_database(Settings(_env_file=None, state_dir=tmp_path / "state")) as (_, sessionmaker):
        async with sessionmaker() as session, session.begin():
            await seed(session, PLAN)
    since = f"--since={PLAN.start.isoformat()}"
    done = journeys(
        "report", "abandoned_cart", since, "--json", "--chart", str(tmp_path / "funnel.png"), env=env
    )
    assert done.returncode == 0, done.stderr
    [v] = json.loads(done.stdout)["versions"]
    assert (v["entered"], v["goal"]["converted"], v["messages"]["sent"]) == (2000, 416, 1715)
    [experiment] = v["experiments"]
    assert [(a["name"], a["entered"], a["converted"]) for a in experiment["arms"]] == [
        ("items_waiting", 900, 90),
        ("question", 900, 126),
    ]
    assert experiment["arms"][1]["p_value"] == pytest.approx(
        proportion.test_proportions_2indep(126, 900, 90, 900, method="score", compare="diff").pvalue,
        abs=1e-12,
    )
    assert (tmp_path / "funnel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = journeys("report", "abandoned_cart", since, env=env)
    assert "question wins: +4.0 points over items_waiting (control)" in text.stdout, text.stdout
    for args, message in (
        (
            ["report", "abandoned_cart", "--since", "last tuesday"],
            "'last tuesday' is not a time: use a duration",
        ),
        (
            ["report", "abandoned_cart", "--chart", "f.pdf"],
            "--chart f.pdf: the file must end in .png or .svg",
        ),
        (["report", "no_such_journey"], "no journey 'no_such_journey' here and no runs of it in the store"),
        (
            ["report", "abandoned_cart", "--since", "1m"],
            "'1m' means minutes here; for months write days (30d, 90d)",
        ),
        (
            ["report", "abandoned_cart", "--since", "2026-12-01", "--until", "2026-11-01"],
            "since 2026-12-01 is not before until 2026-11-01",
        ),
    ):
        refused = journeys(*args, env=env)
        assert refused.returncode == 1 and message in refused.stderr + refused.stdout, refused.stderr


async def test_console_accounts_with_roles(store: Store) -> None:
    from journeys_app.store.reviewers import ReviewerError, add_reviewer, ensure_reviewer, get_reviewer

    await add_reviewer(store.sessionmaker, "Noor", [], ["reports"])
    noor = await get_reviewer(store.sessionmaker, "Noor")
    assert noor is not None and noor.groups == [] and noor.reads_reports
    await ensure_reviewer(store.sessionmaker, "Maja", ["vip-care"])
    maja = await get_reviewer(store.sessionmaker, "Maja")
    assert maja is not None and not maja.reads_reports
    await ensure_reviewer(store.sessionmaker, "Maja", [], ["reports"])
    maja = await get_reviewer(store.sessionmaker, "Maja")
    assert maja is not None and maja.groups == ["vip-care"] and maja.reads_reports
    with pytest.raises(
        ReviewerError, match="unknown role admin; the roles are reports: read journey reports"
    ):
        await add_reviewer(store.sessionmaker, "Eve", ["support"], ["admin"])
    with pytest.raises(ReviewerError, match=r"needs a review group \(--group vip-care\), the reports role"):
        await add_reviewer(store.sessionmaker, "Nobody", [], [])
