"""``trainscope watch`` on logs that are already written: what it draws, how it exits, and a
one-line error for every log it cannot watch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import trainscope
from trainscope.cli import CliContext, build_cli, main
from trainscope_jsonl import watch_follow, watch_start

BAR = "█" * 70


class Clock:
    """A session clock that moves only when told: every figure of the run is exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_run(
    name: str = "Net",
    *,
    epochs: int = 2,
    steps: int = 3,
    validation: int = 2,
    fail_at: tuple[int, int] | None = None,
    interrupt_at: tuple[int, int] | None = None,
) -> trainscope.TrainingSession:
    """A run logged by the jsonl reporter alone, timed by a :class:`Clock` (0.1 s a step)."""
    clock = Clock()
    session = trainscope.TrainingSession(
        name, epochs, steps, validation, plugins=["jsonl"], strict=True, clock=clock
    )
    with session:
        for epoch in range(1, epochs + 1):
            session.start_epoch(epoch)
            for step in range(1, steps + 1):
                clock.now += 0.1
                if (epoch, step) == fail_at:
                    raise ValueError("bad batch")
                if (epoch, step) == interrupt_at:
                    raise KeyboardInterrupt
                loss = 1.0 / (step + steps * (epoch - 1))  # going down: no loss spike alert
                session.update_training_progress(step, loss, 0.5 + step / (4 * steps))
            session.start_validation()
            for step in range(1, validation + 1):
                clock.now += 0.05
                session.update_validation_progress(step, 0.5 + step / 100, 0.75)
            session.print_epoch_summary()
    return session


def the_log(folder: Path) -> Path:
    (log,) = folder.glob("*.jsonl")
    return log


def watch(*args: object, disabled: tuple[str, ...] = ()) -> Result:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    context = CliContext(manager, list(disabled))
    return CliRunner().invoke(build_cli(manager), ["watch", *map(str, args)], obj=context)


def test_a_finished_run_is_drawn_with_its_own_figures_and_exits_0(log_dir: Path) -> None:
    session = write_run()
    log = the_log(log_dir)
    result = watch(log)
    assert result.exit_code == 0, result.output
    bars = [line for line in result.stderr.splitlines() if line.startswith("Epoch ")]
    postfix = "loss=0.611, accuracy=66.67%"  # the means of 1/1, 1/2, 1/3 and 7/12, 8/12, 9/12
    assert bars == [
        f"Epoch 1/2 (Training): 100%|{BAR}| 3/3 [00:00<00:00, 10.00batch/s, {postfix}]",
        f"Epoch 1/2 (Validation): 100%|{BAR}| 2/2 [00:00<00:00, 20.00batch/s, loss=0.515, accuracy=75.00%]",
        f"Epoch 2/2 (Training): 100%|{BAR}| 3/3 [00:00<00:00, 10.00batch/s, loss=0.206, accuracy=66.67%]",
        f"Epoch 2/2 (Validation): 100%|{BAR}| 2/2 [00:00<00:00, 20.00batch/s, loss=0.515, accuracy=75.00%]",
    ]
    assert result.stderr.splitlines()[:2] == [f"Watching {log}", "Starting training..."]
    out = result.stdout.splitlines()
    assert out[1:4] == [
        "Epoch 1/2 Summary:",
        "  Training   - Loss: 0.6111, Accuracy: 66.67%",
        "  Validation - Loss: 0.5150, Accuracy: 75.00%",
    ]
    assert "Best epoch: 1/2 (Validation Loss: 0.5150), total time: 0.8s" in out
    assert out[-3:] == [
        "Run files:",
        f"  log  {log}",
        f"Run Net ({session.run.run_id}): completed after 0.80 s",
    ]


def test_a_failed_run_exits_3_with_its_error(log_dir: Path) -> None:
    with pytest.raises(ValueError, match="bad batch"):
        write_run(fail_at=(2, 2))
    result = watch(log_dir)
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines()[-1].endswith("): failed after 0.60 s (ValueError: bad batch)")
    assert "Training failed after 1/2 epochs." in result.stdout


def test_an_interrupted_run_exits_4(log_dir: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        write_run(interrupt_at=(1, 3))
    result = watch(log_dir)
    assert result.exit_code == 4, result.output
    assert result.stdout.splitlines()[-1].endswith("): interrupted after 0.30 s (KeyboardInterrupt)")
    assert "Training interrupted after 0/2 epochs." in result.stdout


def test_plugins_blocked_on_the_command_line_are_left_out(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_run(epochs=1)
    main(["-p", "no:summary", "watch", str(the_log(log_dir))])  # returns: the run completed
    out, err = capsys.readouterr()
    assert "Summary" not in out
    assert "Epoch 1/1 (Training): 100%" in err


def _rewritten_with_spaces(log: Path, target: Path) -> None:
    """``log`` written again with ``json.dumps``'s spaces: not as the writer writes lines."""
    lines = log.read_text(encoding="utf-8").splitlines()
    target.write_text("".join(json.dumps(json.loads(line)) + "\n" for line in lines), encoding="utf-8")


def _drawn(result: Result, log: Path) -> tuple[str, str]:
    """What a watch drew, with the log's path (in its first line and the run files) taken out."""
    return result.stdout.replace(str(log), "LOG"), result.stderr.replace(str(log), "LOG")


@pytest.fixture
def long_run(log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log longer than the tail a watch reads in full (shortened here to 20 kB)."""
    monkeypatch.setattr(watch_start, "TAIL_BYTES", 20_000)
    monkeypatch.setattr(watch_start, "CATCH_UP_AT_ONCE", 10_000)  # the rest read back later
    # in a pipe, a phase that ended before the watch began gets its final line only, not the
    # line each 5 s of it (nor the one an alert adds: this run has none)
    monkeypatch.setenv("TRAINSCOPE_TQDM_LINE_INTERVAL", "1000")
    write_run(epochs=4, steps=120, validation=10)
    return the_log(log_dir)


def test_a_long_log_draws_the_same_from_its_events_as_from_every_line(long_run: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "spaced.jsonl"
    _rewritten_with_spaces(long_run, spaced)  # read line by line: every step handed on
    every_line, from_events = watch(spaced), watch(long_run)
    assert every_line.exit_code == from_events.exit_code == 0, from_events.output
    drawn, expected = _drawn(from_events, long_run), _drawn(every_line, spaced)
    assert drawn[0] == expected[0]
    assert drawn[1].splitlines() == expected[1].splitlines()
    assert from_events.stdout.count("Summary:") == 4
    # 12 s, or 11.99999... from the clock's sums of 0.1
    assert len(re.findall(r"\| 120/120 \[00:1[12]<00:00, 10\.00batch/s", from_events.stderr)) == 4


def test_a_run_in_steps_validated_every_n_steps_draws_the_same_from_its_events(
    log_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_start, "TAIL_BYTES", 20_000)
    monkeypatch.setenv("TRAINSCOPE_TQDM_LINE_INTERVAL", "1000")
    clock = Clock()
    session = trainscope.TrainingSession(
        "Steps", total_steps=600, validation_steps=5, plugins=["jsonl"], strict=True, clock=clock
    )
    with session:
        for step in range(1, 601):
            clock.now += 0.1
            session.update_training_progress(step, 1.0 / step, 0.5)
            if step % 150 == 0:  # training paused by a validation, then resumed
                session.start_validation()
                for done in range(1, 6):
                    clock.now += 0.05
                    session.update_validation_progress(done, 0.5 + done / 100, 0.75)
                session.finish_validation_epoch()
    log = the_log(log_dir)
    spaced = tmp_path / "spaced.jsonl"
    _rewritten_with_spaces(log, spaced)
    every_line, from_events = watch(spaced), watch(log)
    assert every_line.exit_code == from_events.exit_code == 0, from_events.output
    drawn, expected = _drawn(from_events, log), _drawn(every_line, spaced)
    assert drawn[0] == expected[0]
    assert drawn[1].splitlines() == expected[1].splitlines()
    assert [line for line in drawn[0].splitlines() if line.endswith("Summary:")] == [
        f"Step {step}/600 Summary:" for step in (150, 300, 450, 600)
    ]
    (bar,) = [line for line in drawn[1].splitlines() if line.startswith("Training")]
    # the means since the last evaluation (steps 451 to 600), as the run's bar ends
    assert re.fullmatch(
        rf"Training: 100%\|{BAR}\| 600/600 \[00:59<00:00, 10\.02batch/s, loss=0\.00192, accuracy=50\.00%\]",
        bar,
    ), bar


def test_the_steps_of_finished_phases_are_not_read(long_run: Path) -> None:
    lines = long_run.read_bytes().splitlines(keepends=True)
    first_step = next(i for i, line in enumerate(lines) if line.startswith(b'{"event":"step"'))
    lines[first_step + 5] = lines[first_step + 5].replace(b'"metrics":{', b'"metrics":{"bad":NaN,')
    long_run.write_bytes(b"".join(lines))  # a line no reader accepts, in epoch 1
    result = watch(long_run)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Summary:") == 4


# -- logs it cannot watch ---------------------------------------------------------------


def assert_one_line_error(result: Result, *parts: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = result.stderr.splitlines()[-1]  # after what was drawn before the bad line
    assert line.startswith("Error: "), line
    assert result.stderr.count("Error") == 1, result.stderr
    for part in parts:
        assert part in line, line


def test_a_file_that_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    assert_one_line_error(watch(path), "line 1: not a JSON object", "not a trainscope run log")


def test_a_log_that_does_not_start_with_run_start(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"event":"step","run_id":"r","time":1.0,"step":1,"metrics":{}}\n')
    assert_one_line_error(watch(path), 'the event is "step", not run_start', "not from its start")


def test_a_log_of_a_newer_schema(log_dir: Path) -> None:
    write_run(epochs=1)
    log = the_log(log_dir)
    head, rest = log.read_text().split("\n", 1)
    log.write_text(head.replace('"schema_version":', '"schema_version":99,"was":') + "\n" + rest)
    assert_one_line_error(watch(log), "schema version 99", "upgrade trainscope-jsonl")


def test_a_field_of_the_wrong_type(log_dir: Path) -> None:
    write_run(epochs=1)
    log = the_log(log_dir)
    log.write_text(re.sub(r'("event":"epoch_end".*?"duration":)[^,]+', r"\1null", log.read_text()))
    assert_one_line_error(watch(log), " at byte ", '"epoch_end" event "duration" is null, expected a number')


def test_an_unreadable_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.jsonl"
    path.write_text("")

    def refused(named: Path) -> None:
        raise PermissionError(13, "Permission denied", str(named))

    monkeypatch.setattr(watch_follow, "open_log_file", refused)
    assert_one_line_error(watch(path), f"cannot read {str(path)!r}: Permission denied")


def test_a_folder_where_no_log_appears(tmp_path: Path) -> None:
    result = watch(tmp_path, "--wait", "0.3")
    assert result.exit_code == 1, result.output
    assert f"Waiting for a run log in {str(tmp_path)!r}..." in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"Error: no run log (*.jsonl file) appeared in the folder {str(tmp_path)!r} within 0.3 s: "
        "start the run (its log folder is TRAINSCOPE_LOG_DIR, default runs/) or wait longer with --wait"
    )


def test_a_log_that_stays_empty(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    path.write_text("")
    assert_one_line_error(watch(path, "--wait", "0"), f"{str(path)!r} got no complete first line within 0 s")


def test_a_log_that_does_not_exist(tmp_path: Path) -> None:
    result = watch(tmp_path / "gone.jsonl")
    assert_one_line_error(result, "no such run log", "give a .jsonl file or its folder")


def test_a_folder_given_as_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "odd.jsonl"
    folder.mkdir()
    (folder / "x.txt").write_text("")
    assert_one_line_error(watch(folder, "--wait", "0"), "no run log (*.jsonl file) appeared")
