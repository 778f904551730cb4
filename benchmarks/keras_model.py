"""digits-cnn in Keras 3, the peer the training benchmarks compare ``fit`` with (no trainscope import)."""

from __future__ import annotations

from typing import Any


def keras_digits_cnn(learning_rate: float) -> Any:
    """digits-cnn (channels last, 8x8x1 in, 10 logits out), compiled with Adam, a cross-entropy
    on logits and the accuracy, as ``ModelTrainer`` trains it."""
    import keras  # type: ignore[import-not-found, unused-ignore]

    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
