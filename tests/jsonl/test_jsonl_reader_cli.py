"""``read_run``, ``trainscope log`` and the whole-line guarantee of the writer."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

import trainscope
from trainscope.cli import CliContext, build_cli
from trainscope_jsonl import LogFormatError, read_run
from trainscope_jsonl.writer import LogWriter


def train(epochs: int = 2, name: str = "CatDogCNN") -> trainscope.TrainingSession:
    s = trainscope.TrainingSession(name, epochs, 2, 1, plugins=["jsonl"], strict=True)
    with s:
        for epoch in range(1, epochs + 1):
            s.start_epoch(epoch)
            s.update_training_progress(1, 1.5, 0.25)
            s.update_training_progress(2, 0.5, 0.75)
            s.start_validation()
            s.update_validation_progress(1, 0.75, 0.6651)
            s.print_epoch_summary()
    return s


def run_log_command(path: Path) -> tuple[int, str]:
    manager = trainscope.create_plugin_manager(plugins=["jsonl"])
    result = CliRunner().invoke(build_cli(manager), ["log", str(path)], obj=CliContext(manager))
    return result.exit_code, result.output


def test_log_command_prints_the_epochs_as_a_table(log_dir: Path) -> None:
    s = train()
    (path,) = log_dir.iterdir()
    code, output = run_log_command(path)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[1].startswith(f"Run CatDogCNN ({s.run.run_id}): completed after ")
    assert lines[2].split() == [
        "Epoch",
        "Train",
        "loss",
        "Train",
        "accuracy",
        "Validation",
        "loss",
        "Validation",
        "accuracy",
        "Time",
    ]
    assert lines[3].split()[:5] == ["1", "1.0000", "50.00%", "0.7500", "66.51%"]
    assert lines[4].split()[0] == "2"
    assert lines[5] == "Best epoch: 1/2 (Validation Loss: 0.7500)"
    assert len(lines) == 6


def test_log_command_on_a_directory_shows_its_newest_run(log_dir: Path) -> None:
    train(epochs=1, name="first")
    newest = train(epochs=1, name="second")
    code, output = run_log_command(log_dir)
    assert code == 0, output
    assert f"Run second ({newest.run.run_id})" in output


def test_log_command_reports_a_corrupt_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"event":"run_start","run_id":"r","time":1.0,"name":"n"}\n{"loss": NaN}\n')
    code, output = run_log_command(path)
    assert code == 1
    assert "line 2: not a JSON object: unexpected character" in output
    assert "Traceback" not in output


def test_log_command_marks_a_run_that_never_ended(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text('{"event":"run_start","run_id":"r","time":1.0,"name":"n"}\n{"event":"ste')
    code, output = run_log_command(path)
    assert code == 0, output
    assert "no run_end: the process stopped before the run ended" in output
    assert "cut off" in output
    assert "No epoch finished." in output


@pytest.mark.parametrize("line", [b"NaN", b'{"loss": Infinity}', b"[1, 2]", b"{'a': 1}"])
def test_reader_rejects_non_strict_or_non_object_lines(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(line + b"\n" + b'{"event":"run_end"}\n')
    with pytest.raises(LogFormatError, match="line 1"):
        read_run(path)


def test_reader_accepts_a_complete_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"event":"run_start"}\n{"event":"run_end","status":"completed"}')
    log = read_run(path)
    assert not log.truncated
    assert log.status == "completed"


@pytest.mark.skipif(not hasattr(os, "kill") or not hasattr(os, "writev"), reason="POSIX")
@pytest.mark.parametrize("chunks", [1, 3])
def test_ctrl_c_during_a_write_waits_until_the_lines_are_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: int
) -> None:
    path = tmp_path / "log.jsonl"
    writer = LogWriter(path)
    lines = [b'{"event":"step","step":%d}\n' % i for i in range(chunks)]
    real_write = os.write

    def write_half_then_interrupt(fd: int, data: bytes | memoryview) -> int:
        monkeypatch.setattr(os, "write", real_write)
        os.kill(os.getpid(), signal.SIGINT)
        return real_write(fd, bytes(data)[:5])

    def writev_half(fd: int, buffers: list[bytes]) -> int:
        return real_write(fd, b"".join(buffers)[:5])

    monkeypatch.setattr(os, "write", write_half_then_interrupt)
    monkeypatch.setattr(os, "writev", writev_half)
    with pytest.raises(KeyboardInterrupt):
        writer.write(*lines)
    assert path.read_bytes() == b"".join(lines)
    writer.close()


BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.usefixtures("log_dir")
def test_log_command_shows_bidirectional_controls_as_question_marks() -> None:
    session = train(epochs=1, name=f"Net{BIDI}gnp.exe")
    code, output = run_log_command(Path(session.run.artifacts["jsonl"]))
    assert code == 0, output
    assert not set(BIDI) & set(output)
    assert f"Run Net{'?' * len(BIDI)}gnp.exe ({session.run.run_id})" in output
