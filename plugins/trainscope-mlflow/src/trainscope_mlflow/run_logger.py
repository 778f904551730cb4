"""One trainscope run as an MLflow run: parameters, step metrics, epoch means, artifacts, status."""

from __future__ import annotations

import gc
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID, MLFLOW_EXPERIMENT_NAME
from mlflow.exceptions import MlflowException
from mlflow.tracking import get_tracking_uri
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH

from trainscope.plugin_api import (
    Alert,
    EpochSummary,
    EvaluationSummary,
    GlobalStep,
    PhaseName,
    RunInfo,
    RunStatus,
    StepRecords,
    WorkerTimeoutError,
    architecture_text,
    error_text,
    flatten_config,
    printable,
    warn_plugin,
)
from trainscope_mlflow.bounded import call_within
from trainscope_mlflow.environment_variables import TRAINSCOPE_MLFLOW_LOG_EVERY, TRAINSCOPE_MLFLOW_TIMEOUT
from trainscope_mlflow.health import ALERTS_TAG, AlertsTag, health_batch
from trainscope_mlflow.local_store import check_store_writable
from trainscope_mlflow.names import mlflow_key, truncated
from trainscope_mlflow.quiet import THREAD_PREFIX, quiet_reporter_threads
from trainscope_mlflow.sender import MetricSender
from trainscope_mlflow.settings import log_every, tracking_timeout
from trainscope_mlflow.spool import Batch, MetricSpool
from trainscope_mlflow.tracking import (
    MLFLOW_STATUS,
    MlflowLoggingError,
    MlflowTrackingError,
    blocked_hint,
    check_reachable,
    check_store_supported,
    shown_uri,
)

ARCHITECTURE_ARTIFACT = "model/architecture.txt"
"""Where the architecture printout goes among the run's artifacts."""
LOG_ARTIFACT_FOLDER = "logs"
"""The artifact folder the JSON-lines log is uploaded to."""
RUN_ID_TAG = "trainscope.run_id"
"""The tag holding the trainscope run id (how a resumed run finds its MLflow run)."""
RESUMES_TAG = "trainscope.resumes"
"""The tag counting how many times the run was resumed."""
STRIDE_TAG = "trainscope.mlflow.log_every"
"""The tag that says which steps were logged at the end of the run: every N-th (1: every step)."""


_collected = False


def collect_once() -> None:
    """One full garbage collection per process, before the first training step.

    Importing MLflow (and SQLAlchemy) leaves some 150,000 new objects to Python's garbage
    collector: its first full pass over them would otherwise fall among the first training
    steps, a pause of 0.1 s or more measured there. Collected now, they are old and rarely
    looked at again.
    """
    global _collected
    if not _collected:
        _collected = True
        gc.collect()


class MlflowRunLogger:
    """Creates the MLflow run at once (so a bad store stops the run before training), then logs to it.

    The training thread only spools each batch of steps (:class:`MetricSpool`, bounded: it
    thins the steps rather than wait); a :class:`MetricSender` thread sends what is spooled
    with ``log_batch`` at most once a second (MLflow splits it at its size limits). Every
    MLflow call runs on a thread of the reporter; the ones at the start and the end are
    waited for at most the timeout, the ones during the run never.
    """

    client: MlflowClient
    run_id: str

    def __init__(self, run: RunInfo) -> None:
        self.timeout = tracking_timeout()
        self.every = log_every()
        self.uri = get_tracking_uri()
        self.thread_name = f"{THREAD_PREFIX}-{run.run_id[:8]}"
        check_store_supported(self.uri)
        check_store_writable(self.uri)
        check_reachable(self.uri, self.timeout)
        quiet_reporter_threads()
        self.steps = GlobalStep.for_run(run)
        self._params_logged: set[str] = set()
        """The parameters the MLflow run already has (a resumed run's)."""
        self._gave_up = threading.Event()
        try:
            call_within(self.timeout, f"{self.thread_name}-start", partial(self._start, run))
        except WorkerTimeoutError:
            self._gave_up.set()
            raise MlflowTrackingError(
                f"trainscope-mlflow: the MLflow tracking store {shown_uri(self.uri)!r} did not answer "
                f"within {self.timeout:g} s when the run started. Raise {TRAINSCOPE_MLFLOW_TIMEOUT} "
                f"for a slow store, or set MLFLOW_TRACKING_URI to one that answers, {blocked_hint()}"
            ) from None
        run.artifacts["mlflow"] = f"{shown_uri(self.uri)} run {self.run_id}"
        collect_once()
        self._spool = MetricSpool(self.every)
        self._alerts = AlertsTag()
        self._warned_stride = False
        self._sender = MetricSender(
            self.thread_name, self._spool, self._send, first=partial(self._log_run_start, run)
        )

    def _start(self, run: RunInfo) -> None:
        """Create the MLflow run (on a thread of its own): the store's answer the training waits for."""
        try:
            self.client = MlflowClient(self.uri)
            experiment_id = self._experiment_id(run.name)
            resumed = self._resumed_run(experiment_id, run) if run.resumed is not None else None
            if resumed is None:
                self.run_id = self.client.create_run(
                    experiment_id, run_name=f"{run.name}-{run.run_id[:8]}", tags=run_tags(run)
                ).info.run_id
            else:
                self.run_id = resumed
        except MlflowTrackingError:
            raise
        except Exception as exc:
            raise self._setup_error(exc) from exc
        if self._gave_up.is_set():  # too late: the training did not wait for this run
            self.client.set_terminated(self.run_id, MLFLOW_STATUS["failed"])

    def _setup_error(self, exc: Exception) -> MlflowTrackingError:
        return MlflowTrackingError(
            f"trainscope-mlflow cannot start an MLflow run in {shown_uri(self.uri)!r}: {first_line(exc)}. "
            f"Fix the store or set MLFLOW_TRACKING_URI to one that works, {blocked_hint()}"
        )

    def _resumed_run(self, experiment_id: str, run: RunInfo) -> str | None:
        """The MLflow run of the trainscope run being resumed, set running again (None when the
        experiment has none: the run's earlier parts were not tracked here)."""
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run.run_id}'", max_results=1
        )
        if not found:
            return None
        run_id = str(found[0].info.run_id)
        self._params_logged = set(found[0].data.params)
        self.client.update_run(run_id, status="RUNNING")
        assert run.resumed is not None
        self.client.set_tag(run_id, RESUMES_TAG, str(run.resumed.resumes + 1))
        return run_id

    def _experiment_id(self, run_name: str) -> str:
        chosen_id = MLFLOW_EXPERIMENT_ID.get()
        if chosen_id:
            return str(chosen_id)
        name = MLFLOW_EXPERIMENT_NAME.get() or run_name
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return str(self.client.create_experiment(name))
            except MlflowException:  # created meanwhile by another process
                experiment = self.client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == "deleted":
            raise MlflowTrackingError(
                f"trainscope-mlflow: the MLflow experiment {name!r} is deleted. Restore it "
                f"(mlflow experiments restore --experiment-id {experiment.experiment_id}), "
                f"or set MLFLOW_EXPERIMENT_NAME to another name, {blocked_hint()}"
            )
        return str(experiment.experiment_id)

    def _log_run_start(self, run: RunInfo) -> None:
        """The parameters and the architecture, sent first by the sender thread."""
        params = [
            Param(mlflow_key(name), truncated(str(value), MAX_PARAM_VAL_LENGTH))
            for name, value in flatten_config(run.config).items()
            if mlflow_key(name) not in self._params_logged  # a resumed run's: MLflow keeps the first value
        ]
        if params:
            self.client.log_batch(self.run_id, params=params)
        if run.model is not None and run.resumed is None:  # a resumed run's MLflow run has it
            self.client.log_text(self.run_id, architecture_text(run.name, run.model), ARCHITECTURE_ARTIFACT)

    # -- during the run (training thread: spool only) ---------------------------

    def add_steps(self, phase: PhaseName, epoch: int, records: StepRecords) -> None:
        """Spool a batch of steps: training at their global steps, validation at the current one."""
        if phase == "train":
            offset = self.steps.training(epoch, records.steps)
            batch = Batch(phase, records.steps, records.times, records.metrics, offset=offset)
        else:
            batch = Batch(phase, records.steps, records.times, records.metrics, at=self.steps.current)
        self._add(batch)

    def add_epoch(self, summary: EpochSummary | EvaluationSummary, kind: str = "epoch") -> None:
        """Spool the means as ``<kind>/train/<metric>`` and ``<kind>/validation/<metric>`` (``kind``:
        ``epoch``, or ``evaluation`` after a validation in the middle of training) and the health
        figures as ``health/<figure>``, at the current step; never thinned."""
        for phase, means in (("train", summary.train), ("validation", summary.validation)):
            if means:
                columns = {name: [value] for name, value in means.items()}
                self._add(
                    Batch(
                        f"{kind}/{phase}", [0], [time.time()], columns, at=self.steps.current, thinnable=False
                    )
                )
        health = health_batch(summary, self.steps.current)
        if health is not None:
            self._add(health)

    def add_alert(self, alert: Alert) -> None:
        """Keep the alert's message for the run's tag (sent by the reporter's thread)."""
        self._alerts.add(alert.message)

    def _add(self, batch: Batch) -> None:
        if self._sender.error is not None:
            raise self._refused(self._sender.error) from self._sender.error
        if self._spool.add(batch) and not self._warned_stride:
            self._warned_stride = True
            warn_plugin(
                f"trainscope-mlflow: the MLflow store {shown_uri(self.uri)!r} takes fewer steps than this "
                f"run makes; from step {self.steps.current} on, every {self._spool.every}th step is logged "
                f"(the epoch means all are; set {TRAINSCOPE_MLFLOW_LOG_EVERY} to choose the steps)"
            )

    def _stalled(self) -> MlflowLoggingError:
        return MlflowLoggingError(
            f"the MLflow tracking store {shown_uri(self.uri)!r} did not take this run's last metrics "
            f"within {self.timeout:g} s at the end of the run; the mlflow reporter left the run as it was "
            f"(raise {TRAINSCOPE_MLFLOW_TIMEOUT} for a slow store)"
        )

    def _refused(self, exc: Exception) -> MlflowLoggingError:
        return MlflowLoggingError(
            f"the MLflow tracking store {shown_uri(self.uri)!r} refused this run's data: {first_line(exc)}"
        )

    # -- on the sender thread ---------------------------------------------------

    def _send(self, batches: list[Batch]) -> None:
        """Every spooled batch in one ``log_batch`` (MLflow splits it at its limits)."""
        metrics = [metric for batch in batches for metric in self._metrics(batch)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)
        self._send_alerts()

    def _send_alerts(self) -> None:
        """The alerts tag, when there are new alerts."""
        alerts = self._alerts.unsent()
        if alerts is not None:
            self.client.set_tag(self.run_id, ALERTS_TAG, alerts)

    def _metrics(self, batch: Batch) -> list[Metric]:
        stamps = [int(t * 1000) for t in batch.times]
        steps = batch.steps()
        return [
            Metric(key, value, stamp, step)
            for key, column in (
                (f"{batch.prefix}/{mlflow_key(name)}", column) for name, column in batch.metrics.items()
            )
            for step, stamp, value in zip(steps, stamps, column)
            if value is not None
        ]

    # -- end --------------------------------------------------------------------

    def end(self, run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
        """Send what is queued, end the run with its status, then upload the JSON-lines log (if any).

        Each of the three waits at most the timeout. When the store stopped answering, the run is
        left as it is rather than waiting again.
        """
        quiet_reporter_threads()
        refused: MlflowLoggingError | None = None
        try:
            self._sender.close(self.timeout)
        except WorkerTimeoutError:
            raise self._stalled() from None
        except Exception as exc:  # noqa: BLE001 - raised once the status is set and the log uploaded
            refused = self._refused(exc)
        self._at_end("set the run's status", partial(self._set_status, status, error))
        log = run.artifacts.get("jsonl")
        if log and Path(log).is_file():
            self._at_end(
                "upload the run's log",
                partial(self.client.log_artifact, self.run_id, log, LOG_ARTIFACT_FOLDER),
            )
        if refused is not None:
            raise refused

    def _at_end(self, what: str, call: partial[None]) -> None:
        try:
            call_within(self.timeout, f"{self.thread_name}-end", call)
        except WorkerTimeoutError:
            raise MlflowLoggingError(
                f"the MLflow tracking store {shown_uri(self.uri)!r} did not answer within {self.timeout:g} s "
                f"at the end of the run, so the mlflow reporter did not {what} "
                f"(raise {TRAINSCOPE_MLFLOW_TIMEOUT} for a slow store, {blocked_hint()})"
            ) from None
        except Exception as exc:
            raise MlflowLoggingError(
                f"the mlflow reporter could not {what} in {shown_uri(self.uri)!r}: {first_line(exc)}"
            ) from exc

    def _set_status(self, status: RunStatus, error: BaseException | None) -> None:
        self._send_alerts()
        self.client.set_tag(self.run_id, STRIDE_TAG, str(self._spool.every))
        if error is not None:
            self.client.set_tag(
                self.run_id, "trainscope.error", truncated(error_text(error), MAX_TAG_VAL_LENGTH)
            )
        self.client.set_terminated(self.run_id, MLFLOW_STATUS[status])


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``, printable."""
    return f"{type(exc).__name__}: {printable(next(iter(str(exc).splitlines()), ''))}"


def run_tags(run: RunInfo) -> dict[str, Any]:
    """The run's id and environment (platform, device, versions) as ``trainscope.*`` tags."""
    tags = {RUN_ID_TAG: run.run_id, "trainscope.model": run.name}
    for name, value in flatten_config(run.environment).items():
        tags[mlflow_key(f"trainscope.environment.{name}")] = truncated(str(value), MAX_TAG_VAL_LENGTH)
    return tags


__all__ = [
    "ARCHITECTURE_ARTIFACT",
    "LOG_ARTIFACT_FOLDER",
    "RESUMES_TAG",
    "RUN_ID_TAG",
    "STRIDE_TAG",
    "MlflowRunLogger",
    "collect_once",
    "first_line",
    "run_tags",
]
