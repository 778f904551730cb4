"""How metrics appear in the postfix."""

from __future__ import annotations

import pytest

from trainscope_tqdm import format_postfix, format_value, is_accuracy_like


@pytest.mark.parametrize(
    "name", ["accuracy", "acc", "val_acc", "top5_accuracy", "train/acc", "acc@1", "Balanced-Accuracy"]
)
def test_accuracy_like_names(name: str) -> None:
    assert is_accuracy_like(name)


@pytest.mark.parametrize("name", ["loss", "accel", "accumulated", "precision", "f1_score", "val_loss"])
def test_other_names(name: str) -> None:
    assert not is_accuracy_like(name)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("loss", 1.3087, "1.31"),
        ("loss", 10.5, "10.5"),
        ("loss", 3.0, "3"),
        ("loss", 0.000123456, "0.000123"),
        ("loss", 123456.0, "1.23e+5"),
        ("accuracy", 0.6523, "65.23%"),
        ("val_acc", 1.0, "100.00%"),
        ("accuracy", float("nan"), "nan"),
        ("loss", float("inf"), "inf"),
        ("f1_score", 0.79501, "0.795"),
    ],
)
def test_values(name: str, value: float, text: str) -> None:
    assert format_value(name, value) == text


def test_postfix_keeps_the_order_given_and_shows_custom_metrics() -> None:
    metrics = {"loss": 1.3087, "accuracy": 0.6523, "precision": 0.8, "f1_score": 0.7}
    assert format_postfix(metrics) == "loss=1.31, accuracy=65.23%, precision=0.8, f1_score=0.7"
    assert format_postfix({}) == ""
