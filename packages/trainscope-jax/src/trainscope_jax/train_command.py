"""``trainscope train``: train a model on the embedded digits or an image folder.

JAX is imported only when the command runs, so other ``trainscope`` commands stay fast.
Training is data parallel over every local device (``--devices`` for fewer); with
``--coordinator``/``--num-processes``/``--process-id`` or ``--distributed`` several
processes train one run (``jax.distributed``) and process 0 reports it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trainscope import MetricAlertError, ResumeError, Terminated, create_plugin_manager
from trainscope.cli import CliContext
from trainscope.log_files import log_directory, log_directory_set
from trainscope.signals import INTERRUPTED_EXIT_CODE
from trainscope.values import INT64_MAX
from trainscope_jax.command_types import Count, FiniteFloat, ImageSize
from trainscope_jax.run_observer import RunObserver
from trainscope_jax.train_setup import devices_text, load_data, start_processes

if TYPE_CHECKING:
    pass

MODEL_CHOICES = ("catdog-cnn", "digits-cnn", "mlp")
"""Same as ``trainscope_jax.models.zoo.MODEL_NAMES`` (kept here so ``--help`` does not import JAX)."""
OPTIMIZER_CHOICES = ("adam", "adamw", "sgd")
"""Same as ``trainscope_jax.training.optimizers.OPTIMIZER_NAMES``."""
PLATFORM_CHOICES = ("auto", "metal", "gpu", "cpu")
"""Same as ``trainscope_jax.devices.selection.REQUESTS``."""

MAX_SEED = 2**32 - 1
"""The largest ``--seed``: seeds are 32-bit, as numpy and JAX keys take them everywhere."""


CHECKPOINT_FOLDER = "checkpoints"
"""Where in the log folder the run's checkpoints go (``checkpoints/RUN_ID/epoch-N.npz``)."""

QUIET_BLOCKS = ("arch", "tqdm", "summary")
"""The reporters ``--quiet`` blocks: those that print while the run goes."""


@click.command("train", short_help="Train a model with every enabled reporter.")
@click.option(
    "--model",
    "model_name",
    type=click.Choice(MODEL_CHOICES),
    default="digits-cnn",
    show_default=True,
    help="The network to train.",
)
@click.option(
    "--data",
    default="digits",
    show_default=True,
    metavar="digits|PATH",
    help="'digits' (embedded UCI handwritten digits) or a folder with one sub-folder per class.",
)
@click.option(
    "--epochs", type=Count(1, INT64_MAX, "epochs are counted in 64 bits"), default=10, show_default=True
)
@click.option(
    "--batch-size",
    type=Count(1, 2**31 - 1, "a batch is indexed with 32-bit integers"),
    default=32,
    show_default=True,
)
@click.option(
    "--lr",
    type=FiniteFloat(min=0, min_open=True),
    default=1e-3,
    show_default=True,
    help="Learning rate.",
)
@click.option("--optimizer", type=click.Choice(OPTIMIZER_CHOICES), default="adam", show_default=True)
@click.option(
    "--platform",
    type=click.Choice(PLATFORM_CHOICES),
    default=None,
    help="Device platform  [default: TRAINSCOPE_PLATFORM, else auto: Metal > GPU > CPU]",
)
@click.option(
    "--seed",
    type=Count(0, MAX_SEED, "seeds are 32-bit"),
    default=0,
    show_default=True,
    help="Seed of the initial weights and shuffling (up to 2**32-1).",
)
@click.option(
    "--image-size",
    type=ImageSize(),
    default=None,
    help="Resize folder images to HxW while reading (default: all images must have one size).",
)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Fraction held out for validation when the folder has no validation/.",
)
@click.option(
    "--devices",
    type=click.IntRange(min=1),
    default=None,
    help="Local devices to train on, data parallel (per process)  [default: all of the platform's]",
)
@click.option(
    "--coordinator",
    metavar="HOST:PORT",
    default=None,
    help="Process 0's address and a free port: several processes train one run (jax.distributed).",
)
@click.option("--num-processes", type=click.IntRange(min=1), default=None, help="How many processes.")
@click.option("--process-id", type=click.IntRange(min=0), default=None, help="This process: 0 to N-1.")
@click.option(
    "--distributed",
    "detect",
    is_flag=True,
    help="Join a multi-process run JAX detects (SLURM, Open MPI) without the three options above.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the run's files: the log, TensorBoard's events  [default: TRAINSCOPE_LOG_DIR, else runs]",
)
@click.option(
    "--run-name", default=None, help="The run's name in the log and the trackers  [default: the model's]"
)
@click.option(
    "--max-steps",
    type=Count(1, INT64_MAX, "steps are counted in 64 bits"),
    default=None,
    help="Train at most this many steps in all (a quick check), each epoch still validated.",
)
@click.option(
    "--stop-on-nan",
    is_flag=True,
    help="End the run as failed at the first NaN or infinity in a metric (default: train on, with an alert).",
)
@click.option(
    "--resume",
    metavar="LOG_OR_RUN_ID",
    default=None,
    help="Go on with a run that ended interrupted or failed (its log, or its run id's first characters).",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the state saved at each epoch end, for --resume  [default: LOG_DIR/checkpoints]",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No architecture, bars or summaries: only the closing lines and errors (the log is kept).",
)
@click.pass_context
def train_command(
    ctx: click.Context,
    coordinator: str | None,
    num_processes: int | None,
    process_id: int | None,
    detect: bool,
    **options: Any,
) -> None:
    """Train a model with every enabled reporter (defaults: digits-cnn on the embedded digits)."""
    joined = start_processes(coordinator, num_processes, process_id, detect)  # before any device is touched
    try:
        _train(ctx, **options)
    except click.exceptions.Exit:
        raise
    except BaseException as exc:
        if joined:  # only then is JAX loaded whole: an interrupt during its import must not import it again
            from trainscope_jax.training.peers import report_failure

            report_failure(exc)  # the other processes stop too instead of waiting
        raise


def _train(
    ctx: click.Context,
    model_name: str,
    data: str,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    platform: str | None,
    seed: int,
    image_size: tuple[int, int] | None,
    validation_split: float,
    devices: int | None,
    log_dir: Path | None,
    run_name: str | None,
    max_steps: int | None,
    stop_on_nan: bool,
    resume: str | None,
    checkpoint_dir: Path | None,
    quiet: bool,
) -> None:
    """The command's work once this process has joined the run's processes (if any)."""
    cli = ctx.obj if isinstance(ctx.obj, CliContext) else CliContext(create_plugin_manager())
    observer = RunObserver(cli.interrupts, cli.status)
    observer.check_interrupts()
    cli.status.show("trainscope: loading JAX...")
    import jax  # noqa: F401 - the slow part of the start-up, while the status says so

    from trainscope_jax.data.datasets import DataError
    from trainscope_jax.devices.selection import DeviceSelectionError, select_device

    cli.status.clear()  # the device choice may print a line of its own
    try:
        choice = select_device(platform)  # says so on standard error when it falls back
    except DeviceSelectionError as exc:
        raise click.ClickException(str(exc)) from None
    observer.check_interrupts()  # between stages: a Ctrl-C swallowed inside JAX's start-up ends it here

    from trainscope_jax.models.zoo import create_model
    from trainscope_jax.training.checkpoints import CheckpointError
    from trainscope_jax.training.config import TrainerConfig
    from trainscope_jax.training.sharding import BatchSizeError, DeviceCountError
    from trainscope_jax.training.trainer import ModelTrainer

    cli.status.show("trainscope: reading the data...")
    try:
        train, validation = load_data(data, image_size, validation_split, seed)
    except DataError as exc:
        raise click.BadParameter(str(exc), param_hint="--data") from None
    try:
        model = create_model(model_name, train.input_shape, train.num_classes)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None
    observer.check_interrupts()

    config = TrainerConfig(
        batch_size=batch_size,
        learning_rate=lr,
        optimizer=optimizer,
        seed=seed,
        platform=platform,
        devices=devices,
    )
    plugin_manager = cli.plugin_manager
    plugin_manager.register(observer, name="train-command")
    if quiet:
        for name in QUIET_BLOCKS:
            plugin_manager.block(name, "blocked by --quiet")
    started = time.monotonic()
    cli.status.show(f"trainscope: setting up {model.name} on {choice.device}...")
    try:
        trainer = ModelTrainer(model, config)
    except BatchSizeError as exc:
        raise click.BadParameter(str(exc), param_hint="--batch-size") from None
    except DeviceCountError as exc:
        raise click.BadParameter(str(exc), param_hint="--devices") from None
    observer.check_interrupts()
    try:
        with trainer, log_directory_set(log_dir):
            history = trainer.fit(
                train,
                validation,
                epochs,
                name=run_name,
                plugin_manager=plugin_manager,
                max_steps=max_steps,
                stop_on_nan=stop_on_nan,
                checkpoints=checkpoint_dir or log_directory() / CHECKPOINT_FOLDER,
                resume=resume,
            )
    except (KeyboardInterrupt, Terminated) as exc:
        cause = "Interrupted" if isinstance(exc, KeyboardInterrupt) else f"Terminated by {exc.signal_name}"
        logged = observer.log_path()
        where = f"the run is logged as interrupted in {logged}" if logged else "no run log was written"
        if trainer.parallel.process_index:
            where = "process 0 logs the run"
        click.echo(f"\n{cause}: training stopped ({where}).", err=True)
        ctx.exit(INTERRUPTED_EXIT_CODE if isinstance(exc, KeyboardInterrupt) else 128 + exc.signum)
    except (DataError, ResumeError, CheckpointError) as exc:
        raise click.ClickException(str(exc)) from None
    except MetricAlertError as exc:
        logged = observer.log_path()
        where = f"the run is logged as failed in {logged}" if logged else "no run log was written"
        raise click.ClickException(f"{exc} ({where})") from None
    except Exception as exc:
        if "RESOURCE_EXHAUSTED" not in str(exc):
            raise
        raise click.ClickException(
            f"the model does not fit in the memory of {choice.device} at batch size {batch_size}: "
            "reduce --batch-size (or --image-size), or choose a smaller --model"
        ) from None
    finally:
        plugin_manager.unregister(observer)  # a command's helper, for this run only
    if trainer.parallel.process_index:
        return  # process 0 reports the run
    last, trained = history.last, len(history.epochs)  # --max-steps may stop before --epochs
    click.echo(
        f"Trained {model.name} on {devices_text(trainer)} for {trained} epoch{'s' if trained > 1 else ''} "
        f"in {time.monotonic() - started:.1f} s: validation accuracy {last.validation_accuracy or 0:.2%}, "
        f"loss {last.validation_loss or 0:.4f}"
    )
    if (logged := observer.log_path()) is not None and "summary" not in plugin_manager.enabled_names():
        click.echo(f"Run log: {logged}")  # the summary reporter, when on, lists every file the run wrote


__all__ = [
    "CHECKPOINT_FOLDER",
    "MAX_SEED",
    "MODEL_CHOICES",
    "OPTIMIZER_CHOICES",
    "PLATFORM_CHOICES",
    "QUIET_BLOCKS",
    "train_command",
]
