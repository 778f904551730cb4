"""Names from user code cannot act on the terminal through the bars, the summary or the printout."""

from __future__ import annotations

from typing import Any

import pytest

from trainscope import LayerSpec, ModelSpec, TrainingSession
from trainscope.cli import main

CLEAR_SCREEN = "\x1b[2J"
SET_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"


def test_escape_sequences_in_names_do_not_reach_the_terminal(capsys: Any, only_plugins: Any) -> None:
    only_plugins("tqdm", "summary", "arch")
    model = ModelSpec(
        f"Net{CLEAR_SCREEN}",
        input_shape=(4,),
        layers=[
            LayerSpec(f"fc{SET_CLIPBOARD}", "Linear", f"4, 2{CLEAR_SCREEN}", params=10, output_shape=(2,))
        ],
    )
    with TrainingSession(f"Run{SET_CLIPBOARD}", 1, 2, 1, model=model, refresh_interval=0) as session:
        session.start_epoch(1)
        for step in (1, 2):
            session.update_training_progress(step, 0.5, **{f"acc{CLEAR_SCREEN}": 0.5})
        session.start_validation()
        session.update_validation_progress(1, 0.4, **{f"evil{SET_CLIPBOARD}": 1.0})
    out, err = capsys.readouterr()
    shown = out + err
    assert "Model Architecture:" in out
    assert "Epoch 1/1 Summary:" in out
    for sequence in (CLEAR_SCREEN, SET_CLIPBOARD, "\x1b]", "\x07"):
        assert sequence not in shown
    assert "fc?]52;c;cm0gLXJmIH4=?" in out  # shown, made harmless
    assert "acc?[2J" in out


def test_escape_sequences_in_a_command_line_error_do_not_reach_the_terminal(capsys: Any) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["train", "--data", f"missing{SET_CLIPBOARD}"])  # the folder's name is quoted in the error
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    for sequence in ("\x1b]", "\x07"):
        assert sequence not in err
    assert "missing?]52;c;cm0gLXJmIH4=?" in err
