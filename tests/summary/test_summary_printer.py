"""The summary reporter through its entry point: epoch blocks and the end-of-run line."""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys
import textwrap

import pytest

import trainscope
from trainscope_summary import EpochSummaryPrinter


def run_epochs(
    plugins: list[object],
    epochs: int = 2,
    *,
    validation: bool = True,
    losses: tuple[float, ...] = (1.3087, 0.9),
    fail_in_epoch: int | None = None,
    error: BaseException | None = None,
) -> None:
    session = trainscope.TrainingSession("Net", epochs, 2, 2, plugins=plugins, strict=True)
    with session:
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            if epoch == fail_in_epoch:
                raise error or RuntimeError("boom")
            loss = losses[epoch - 1]
            session.update_training_progress(1, loss - 0.1, 0.6)
            session.update_training_progress(2, loss + 0.1, 0.7046)
            session.finish_training_epoch()
            if validation:
                session.start_validation()
                session.update_validation_progress(1, loss - 0.05, 0.6651, precision=0.8123)
                session.update_validation_progress(2, loss - 0.0226, 0.6651, precision=0.8123)
                session.finish_validation_epoch()
            session.print_epoch_summary()


def test_epoch_summary_format(capsys: pytest.CaptureFixture[str]) -> None:
    run_epochs(["summary"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[:9] == [
        "",
        "Epoch 1/2 Summary:",
        "  Training   - Loss: 1.3087, Accuracy: 65.23%",
        "  Validation - Loss: 1.2724, Accuracy: 66.51%, precision: 0.8123",
        "",
        "Epoch 2/2 Summary:",
        "  Training   - Loss: 0.9000, Accuracy: 65.23%",
        "  Validation - Loss: 0.8637, Accuracy: 66.51%, precision: 0.8123",
        "",
    ]
    assert re.fullmatch(r"Best epoch: 2/2 \(Validation Loss: 0\.8637\), total time: \d+\.\ds", lines[9])
    assert len(lines) == 10


def test_a_phase_that_did_not_run_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    run_epochs(["summary"], validation=False, losses=(0.7, 0.9))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["Epoch 1/2 Summary:", "  Training   - Loss: 0.7000, Accuracy: 65.23%"]
    assert lines[4] == "Epoch 2/2 Summary:"
    assert "Validation" not in "\n".join(lines[:-1])
    assert lines[-1].startswith("Best epoch: 1/2 (Training Loss: 0.7000), total time: ")


def test_an_epoch_without_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with trainscope.TrainingSession("Net", 1, 2, plugins=["summary"], strict=True) as session:
        session.start_epoch(1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["Epoch 1/1 Summary:", "  no steps were reported"]
    assert re.fullmatch(r"Total time: \d+\.\ds", lines[-1])


@pytest.mark.parametrize(
    ("error", "status"), [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "interrupted")]
)
def test_a_run_that_did_not_complete_says_so(
    error: BaseException, status: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(type(error)):
        run_epochs(["summary"], epochs=3, losses=(1.0, 2.0, 3.0), fail_in_epoch=2, error=error)
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(
        rf"Training {status} after 1/3 epochs\. Best epoch: 1/3 \(Validation Loss: 0\.9637\), "
        r"total time: \d+\.\ds",
        last,
    ), last


def test_printer_object_with_its_own_file(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    run_epochs([EpochSummaryPrinter(file=out)], epochs=1)
    assert capsys.readouterr().out == ""
    assert out.getvalue().startswith("\nEpoch 1/1 Summary:\n  Training   - Loss: 1.3087, Accuracy: 65.23%\n")


def test_summary_written_to_a_pipe() -> None:
    code = """
        import trainscope
        with trainscope.TrainingSession("Net", 1, 2, plugins=["summary"], strict=True) as session:
            session.start_epoch(1)
            session.update_training_progress(1, 1.2087, 0.6, f1_score=0.5)
            session.update_training_progress(2, 1.4087, 0.7046, f1_score=float("nan"))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "",
        "Epoch 1/1 Summary:",
        "  Training   - Loss: 1.3087, Accuracy: 65.23%, f1_score: nan",
    ]
    assert lines[3] == ""
    assert lines[4].startswith("Best epoch: 1/1 (Training Loss: 1.3087), total time: ")


def test_a_run_in_steps_that_stops_says_at_which_step(capsys: pytest.CaptureFixture[str]) -> None:
    """The step comes from the latest phase the reporter got (each hook hands it a snapshot)."""
    session = trainscope.TrainingSession("Net", total_steps=100, plugins=["summary"], strict=True)
    with pytest.raises(KeyboardInterrupt), session:  # noqa: PT012
        for step in range(1, 38):
            session.update_training_progress(step, 1.0)
        raise KeyboardInterrupt
    assert capsys.readouterr().out.splitlines()[-1].startswith("Training interrupted at step 37/100.")


def test_health_findings_the_run_eta_and_alerts_are_in_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    session = trainscope.TrainingSession("Net", 2, 30, plugins=["summary"], strict=True, clock=clock)

    def step(batch: int) -> float:
        clock.now += 0.02
        return math.nan if batch == 44 else 1.0

    train_step = session.training_step(step)
    with session:
        for epoch in session.epochs():
            for batch in range(30 * (epoch - 1) + 1, 30 * epoch + 1):
                clock.now += 0.1  # reading a batch takes five times the step
                train_step(batch)
    out = capsys.readouterr().out
    health = [line for line in out.splitlines() if line.startswith("  Health     - ")]
    assert health == [  # epoch 2 also counts the wait for its first batch
        f"  Health     - input-bound: {share}% of step time waiting for data (see docs: prefetch, workers)"
        for share in (81, 83)
    ]
    assert "  Run        - 3.6s elapsed, about 3.6s to go (validation included)" in out  # after epoch 1 only
    assert out.count("  Run        -") == 1
    assert out.rstrip().splitlines()[-1] == "Alerts: loss is NaN at step 14 (training, epoch 2)"


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now
