"""TensorBoard events built from trainscope's columns: scalars, text, hyper-parameters.

Uses tensorboardX's protocol buffers and summary builders (no TensorFlow). Steps become
one event each, holding every metric the step reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from tensorboardX.proto.api_pb2 import Status
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboardX.summary import hparams, text

from trainscope.plugin_api import HyperParameter, RunStatus

SESSION_END_TAG = "_hparams_/session_end_info"
"""The tag TensorBoard's HParams dashboard reads a run's end status from."""

HPARAMS_STATUS = {
    "completed": Status.Value("STATUS_SUCCESS"),
    "interrupted": Status.Value("STATUS_UNKNOWN"),
    "failed": Status.Value("STATUS_FAILURE"),
}
"""The HParams dashboard's session status for each run status (it has none for a stopped run)."""


def scalar_events(
    prefix: str, steps: Sequence[int], times: Sequence[float], metrics: Mapping[str, Sequence[float | None]]
) -> Iterator[Event]:
    """One event per step, tagged ``prefix/<metric>``, at that step and wall time.

    Steps that reported every metric reuse one event object, updated in place: write
    (serialize) each event before taking the next.
    """
    tags = [f"{prefix}/{name}" for name in metrics]
    template = Event(summary=Summary(value=[Summary.Value(tag=tag) for tag in tags]))
    values = list(template.summary.value)
    for step, wall_time, *row in zip(steps, times, *metrics.values()):
        if None in row:
            yield Event(
                step=step,
                wall_time=wall_time,
                summary=Summary(
                    value=[
                        Summary.Value(tag=tag, simple_value=value)
                        for tag, value in zip(tags, row)
                        if value is not None
                    ]
                ),
            )
            continue
        template.step = step
        template.wall_time = wall_time
        for value, number in zip(values, row):
            value.simple_value = number
        yield template


def means_event(step: int, wall_time: float, means: Mapping[str, float]) -> Event:
    """One event holding ``means`` (tag -> value) at ``step``."""
    return Event(
        step=step,
        wall_time=wall_time,
        summary=Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in means.items()]),
    )


def text_event(tag: str, content: str, step: int, wall_time: float) -> Event:
    """A text event (shown by TensorBoard's Text tab, as Markdown)."""
    return Event(step=step, wall_time=wall_time, summary=text(tag, content))


def hparams_start_event(config: Mapping[str, HyperParameter], wall_time: float) -> Event:
    """The HParams dashboard's session start: the run's hyper-parameters (None values left out)."""
    _experiment, session_start, _session_end = hparams(dict(config), {})
    return Event(wall_time=wall_time, summary=session_start)


def hparams_end_event(status: RunStatus, wall_time: float) -> Event:
    """The HParams dashboard's session end, with the run's status."""
    content = HParamsPluginData(
        session_end_info=SessionEndInfo(status=HPARAMS_STATUS[status], end_time_secs=wall_time), version=0
    )
    metadata = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=content.SerializeToString())
    )
    return Event(
        wall_time=wall_time, summary=Summary(value=[Summary.Value(tag=SESSION_END_TAG, metadata=metadata)])
    )


__all__ = [
    "HPARAMS_STATUS",
    "hparams_end_event",
    "hparams_start_event",
    "means_event",
    "scalar_events",
    "text_event",
]
