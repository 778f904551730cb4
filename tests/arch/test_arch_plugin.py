"""The ``arch`` reporter, loaded through its entry point."""

from __future__ import annotations

import pytest

import trainscope
from trainscope import LayerSpec, ModelSpec, RunInfo
from trainscope_arch import environment_variables as env_vars

SPEC = ModelSpec(
    "Tiny",
    (4,),
    [
        LayerSpec(
            "fc", "Linear", "in_features=4, out_features=2, bias=true", 10, output_shape=(2,), mult_adds=10
        )
    ],
    train_flops_per_example=38.0,
)


class EpochMarker:
    """Prints a marker when the first epoch starts, to check what came before it."""

    @trainscope.hookimpl
    def trainscope_epoch_start(self, run: RunInfo, epoch: int) -> None:
        print(f"<epoch {epoch}>")


def train(model: ModelSpec | None, name: str = "TinyNet") -> None:
    session = trainscope.TrainingSession(
        name, 1, 1, plugins=["arch", EpochMarker()], model=model, strict=True
    )
    with session:
        session.start_epoch(1)
        session.update_training_progress(1, 0.5)


@pytest.fixture(autouse=True)
def _default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in env_vars.__all__:
        monkeypatch.delenv(variable, raising=False)


def test_prints_the_model_before_the_first_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    train(SPEC)
    out = capsys.readouterr().out
    assert out == (
        "Model Architecture:\n"
        "TinyNet(\n"
        "  (fc): Linear(in_features=4, out_features=2, bias=true)\n"
        ")\n"
        "\n"
        "Total parameters: 10\n"
        "Trainable parameters: 10\n"
        "Non-trainable parameters: 0\n"
        "Total mult-adds (M): 0.00001\n"
        "Forward/backward FLOPs per example (M): 0.000038\n"
        "Input size (MB): 0.000016\n"
        "Forward/backward pass size (MB): 0.000016\n"
        "Params size (MB): 0.00004\n"
        "Estimated Total Size (MB): 0.000072\n"
        "<epoch 1>\n"
    )


def test_prints_nothing_without_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    train(None)
    assert capsys.readouterr().out == "<epoch 1>\n"


def test_environment_selects_the_table_view_and_units(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_ARCH_VIEW, "table")
    monkeypatch.setenv(env_vars.TRAINSCOPE_ARCH_MEMORY_UNITS, "GB")
    monkeypatch.setenv(env_vars.TRAINSCOPE_ARCH_PARAMETER_FORMAT, "full")
    wide = ModelSpec("Wide", (100,), [LayerSpec("fc", "Linear", "100, 200", 20_200, output_shape=(200,))])
    train(wide)
    lines = capsys.readouterr().out.splitlines()
    assert ["fc", "(Linear)", "[1,", "200]", "20,200", "--"] in [line.split() for line in lines]
    assert "Params size (GB): 0.0000808" in lines


def test_invalid_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRAINSCOPE_ARCH_VIEW, "graph")
    with pytest.raises(ValueError, match=r"TRAINSCOPE_ARCH_VIEW.*tree, table"):
        train(SPEC)
