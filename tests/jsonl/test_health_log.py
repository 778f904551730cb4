"""Run health in the log (schema 3): ``health`` in ``phase_end``, ``epoch_end`` and ``evaluation_end``,
the ``alert`` event, and what ``trainscope log``, ``report`` and ``compare`` show of them. Real
sessions on a fake clock make every figure exact; version 2 logs still read."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope import MetricAlertError
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import SCHEMA_VERSION, read_run, read_summary
from trainscope_jsonl.records import MAX_ALERTS

from .conftest import StrictLines

INPUT_BOUND = "input-bound: 75% of step time waiting for data (see docs: prefetch, workers)"
SPIKE = "loss spiked to 9 at step 38 (training, epoch 1), 8.8x its running median 1.019"
NAN = "loss is NaN at step 12 (training, epoch 2)"


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def slow_batches(clock: FakeClock, count: int, fetch: float) -> Iterator[int]:
    for index in range(count):
        clock.sleep(fetch)
        yield index


def train(fetch: float = 0.3, *, alerts: bool = True, name: str = "SlowInput", **options: Any) -> Path:
    """Two epochs of 40 training steps (each batch takes ``fetch`` s to come, each step 0.1 s) and
    5 validation steps; with ``alerts``, a loss spike at epoch 1 step 38 and a NaN at epoch 2 step 12.
    The log."""
    clock = FakeClock()
    session = trainscope.TrainingSession(
        name, 2, 40, 5, plugins=["jsonl"], clock=clock, refresh_interval=0, strict=True, **options
    )
    with session:
        for epoch in session.epochs():
            for step, _ in enumerate(session.timed_batches(slow_batches(clock, 40, fetch)), 1):
                clock.sleep(0.1)
                loss = 1.0 + step / 1000
                if alerts and (epoch, step) == (1, 38):
                    loss = 9.0
                if alerts and (epoch, step) == (2, 12):
                    loss = math.nan
                session.update_training_progress(step, loss, 0.5)
            session.start_validation()
            for step in range(1, 6):
                clock.sleep(0.05)
                session.update_validation_progress(step, 0.4, 0.6)
    return Path(session.run.artifacts["jsonl"])


def cli(*args: str) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    return CliRunner().invoke(build_cli(manager), list(args), obj=CliContext(manager))


def of(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == name]


# -- the log ----------------------------------------------------------------------------------


def test_epoch_and_phase_ends_carry_the_health_figures(log_dir: Path, strict_lines: StrictLines) -> None:
    events = strict_lines(train())
    assert events[0]["schema_version"] == SCHEMA_VERSION >= 3  # the health figures came in schema 3
    train_end = next(e for e in of(events, "phase_end") if e["phase"] == "train")
    health = train_end["health"]
    assert health["verdict"] == "input-bound"
    assert health["data_share"] == pytest.approx(0.75)
    assert health["device_share"] is None  # the loop timed its batches only
    assert health["steps"] == 39  # the phase's first step has no step time
    assert health["step_time_median"] == pytest.approx(0.4, rel=0.04)
    assert health["findings"] == [INPUT_BOUND]
    first, second = of(events, "epoch_end")
    assert first["health"] == health
    assert first["run_elapsed"] == pytest.approx(16.25)
    assert first["run_eta"] == pytest.approx(16.25, rel=0.01)
    assert (second["run_elapsed"], second["run_eta"]) == (pytest.approx(32.5), 0.0)
    validation_end = next(e for e in of(events, "phase_end") if e["phase"] == "validation")
    assert validation_end["health"]["verdict"] is None  # too short to judge


def test_alerts_are_lines_of_their_own_after_their_batch(log_dir: Path, strict_lines: StrictLines) -> None:
    events = strict_lines(train())
    spike, nan = of(events, "alert")
    assert spike == {
        "event": "alert",
        "run_id": events[0]["run_id"],
        "time": spike["time"],
        "kind": "spike",
        "metric": "loss",
        "phase": "train",
        "epoch": 1,
        "step": 38,
        "value": 9.0,
        "median": pytest.approx(1.019),
        "message": SPIKE,
    }
    assert (nan["kind"], nan["value"], nan["median"], nan["message"]) == ("non-finite", "NaN", None, NAN)
    before = events[events.index(nan) - 1]
    assert (before["event"], before["epoch"], before["step"]) == ("step", 2, 12)


def test_read_run_gives_an_alerts_value_as_a_float(log_dir: Path) -> None:
    spike, nan = read_run(train()).of("alert")
    assert spike["value"] == 9.0
    assert math.isnan(nan["value"])


def test_stop_on_nan_logs_the_alert_then_the_failed_end(log_dir: Path, strict_lines: StrictLines) -> None:
    with pytest.raises(MetricAlertError):
        train(stop_on_nan=True)
    (log,) = log_dir.iterdir()
    events = strict_lines(log)
    assert [e["event"] for e in events[-2:]] == ["alert", "run_end"]
    assert events[-1]["status"] == "failed"
    assert NAN in events[-1]["error"]


def test_read_summary_keeps_the_health_and_the_alerts(log_dir: Path) -> None:
    summary = read_summary(train())
    assert [epoch.health and epoch.health["verdict"] for epoch in summary.epochs] == ["input-bound"] * 2
    assert summary.epochs[1].run_eta == 0.0
    assert [(alert.kind, alert.epoch, alert.step, alert.message) for alert in summary.alerts] == [
        ("spike", 1, 38, SPIKE),
        ("non-finite", 2, 12, NAN),
    ]
    assert math.isnan(summary.alerts[1].value)
    assert (summary.alert_count, summary.alerts[1].global_step) == (2, 52)
    assert summary.phases[0].health is not None


# -- trainscope log -----------------------------------------------------------------------------


def test_log_shows_the_findings_and_the_alerts_under_the_table(log_dir: Path) -> None:
    result = cli("log", str(train()))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-4].startswith("Best epoch: 1/2")
    assert lines[-3:] == [
        f"Health: epoch 1: {INPUT_BOUND}",
        f"Health: epoch 2: {INPUT_BOUND}",
        f"Alerts: {SPIKE}; {NAN}",
    ]


def test_a_healthy_run_shows_nothing_more(log_dir: Path) -> None:
    result = cli("log", str(train(fetch=0.01, alerts=False)))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("Best epoch: 1/2")
    assert "Health" not in result.output
    assert "Alerts" not in result.output


def test_a_run_in_steps_names_its_evaluations(log_dir: Path) -> None:
    clock = FakeClock()
    session = trainscope.TrainingSession(
        "StepNet", total_steps=40, validation_steps=1, plugins=["jsonl"], clock=clock, strict=True
    )
    with session:
        for step, _ in enumerate(session.timed_batches(slow_batches(clock, 40, 0.3)), 1):
            clock.sleep(0.1)
            session.update_training_progress(step, 0.5)
            if step % 20 == 0:
                session.start_validation()
                session.update_validation_progress(1, 0.4)
                session.finish_validation()
    lines = cli("log", session.run.artifacts["jsonl"]).output.splitlines()
    assert [line.split("%")[0][:-2] for line in lines[-2:]] == [
        "Health: step 20: input-bound: ",
        "Health: step 40: input-bound: ",
    ]


# -- logs written by hand: many alerts, old versions, bad figures ------------------------------

RUN_ID = "3ab1ac0a517746cbb87fbd9409408d54"


def ev(event: str, /, **fields: Any) -> dict[str, Any]:
    return {"event": event, "run_id": RUN_ID, "time": 1778312112.0, **fields}


def version_2_log(path: Path, *extra: dict[str, Any]) -> Path:
    """A log as schema 2 writes it (no health, no alerts), then ``extra`` events."""
    events = [
        ev("run_start", schema_version=2, name="Old", epochs=1, steps_per_epoch=1, validation_steps=None),
        ev("epoch_start", epoch=1),
        ev("phase_start", epoch=1, phase="train", total=1, training_step=None),
        ev("step", epoch=1, phase="train", step=1, metrics={"loss": 0.5}),
        ev("phase_end", epoch=1, phase="train", steps=1, means={"loss": 0.5}, duration=0.1, rate=10.0),
        *extra,
        ev("epoch_end", epoch=1, train={"loss": 0.5}, validation=None, duration=0.2, throughput=None),
        ev("run_end", status="completed", error=None, duration=0.3),
    ]
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return path


def test_a_version_2_log_still_reads_with_no_health(tmp_path: Path) -> None:
    path = version_2_log(tmp_path / "old.jsonl")
    summary = read_summary(path)
    (epoch,) = summary.epochs
    assert (epoch.health, epoch.run_elapsed, epoch.run_eta, summary.phases[0].health) == (None,) * 4
    assert (summary.alerts, summary.alert_count) == ([], 0)
    result = cli("log", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "Best epoch: 1/1 (Training Loss: 0.5000)"
    assert cli("report", str(path)).exit_code == 0
    assert 'id="health"' not in path.with_suffix(".html").read_text(encoding="utf-8")


def test_the_first_alerts_are_kept_and_all_counted(tmp_path: Path) -> None:
    alerts = [
        ev(
            "alert",
            kind="spike",
            metric="loss",
            phase="train",
            epoch=1,
            step=n,
            value=9.0,
            median=1.0,
            message=f"loss spiked at step {n}",
        )
        for n in range(1, 151)
    ]
    path = version_2_log(tmp_path / "many.jsonl", *alerts)
    summary = read_summary(path)
    assert (len(summary.alerts), summary.alert_count) == (MAX_ALERTS, 150)
    last = cli("log", str(path)).output.splitlines()[-1]
    assert (
        last == "Alerts: loss spiked at step 1; loss spiked at step 2; loss spiked at step 3 (and 147 more)"
    )


def test_an_alert_message_is_made_safe_to_print(tmp_path: Path) -> None:
    alert = ev(
        "alert",
        kind="non-finite",
        metric="x",
        phase="train",
        epoch=1,
        step=1,
        value="NaN",
        median=None,
        message="x is NaN \x1b[2J\u202e",
    )
    output = cli("log", str(version_2_log(tmp_path / "escapes.jsonl", alert))).output
    assert output.splitlines()[-1] == "Alerts: x is NaN ?[2J?"


@pytest.mark.parametrize(
    ("health", "message"),
    [
        ("fast", '"epoch_end" event "health" is a string, expected an object'),
        (
            {"step_time_median": "slow"},
            '"epoch_end" event "health" "step_time_median" is a string, expected a number',
        ),
        ({"steps": 1.5}, '"epoch_end" event "health" "steps" is 1.5, expected an integer'),
        (
            {"findings": "all fine"},
            '"epoch_end" event "health" "findings" is a string, expected a list of strings',
        ),
    ],
)
def test_bad_health_figures_are_one_line_naming_the_field(tmp_path: Path, health: Any, message: str) -> None:
    path = version_2_log(tmp_path / "bad.jsonl")
    events = [json.loads(line) for line in path.read_text().splitlines()]
    events[-2]["health"] = health
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    result = cli("log", str(path))
    assert result.exit_code == 1
    assert result.output == f"Error: '{path}' line 6: {message}\n"


# -- trainscope report and compare ------------------------------------------------------------


def test_the_report_has_a_health_section(log_dir: Path) -> None:
    log = train()
    result = cli("report", str(log))
    assert result.exit_code == 0, result.output
    document = log.with_suffix(".html").read_text(encoding="utf-8")
    section = document[document.index('<section id="health">') : document.index('<section id="config">')]
    assert '<a href="#health">Health</a>' in document
    row = "<tr><td>1</td><td>input-bound</td><td>400 ms</td><td>400 ms</td><td>400 ms</td><td>0</td>"
    assert row + "<td>75%</td><td>-</td><td>16.2 s</td><td>16.2 s</td></tr>" in section
    assert f"<li>epoch 1: {INPUT_BOUND}</li>" in section
    assert f"<li>{SPIKE}</li><li>{NAN}</li>" in section


def test_compare_shows_the_last_epochs_health(log_dir: Path, tmp_path: Path) -> None:
    old = version_2_log(tmp_path / "old.jsonl")
    result = cli("compare", str(train()), str(train(fetch=0.01, alerts=False, name="Fast")), str(old))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    block = lines[lines.index(next(line for line in lines if line.startswith("Health (last epoch)"))) :]
    assert block[0].split() == ["Health", "(last", "epoch)", "A", "B", "C"]
    assert block[1].split() == ["Verdict", "input-bound", "balanced", "-"]
    assert block[2].split() == ["Step", "time", "(median)", "400", "ms", "110", "ms", "-"]
    assert block[3].split() == ["Waiting", "for", "data", "75%", "9%", "-"]
