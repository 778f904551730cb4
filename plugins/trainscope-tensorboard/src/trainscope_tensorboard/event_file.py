"""One TensorBoard event file, kept readable so that it can be written again if deleted.

The records are TensorBoard's (TFRecord framing with masked CRC-32C, as tensorboardX
writes them). The file is opened for reading too: when its folder is removed during
the run, :meth:`EventFile.reattach` creates it again with every event written so far.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import time
from pathlib import Path
from typing import BinaryIO

from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.record_writer import masked_crc32c

FILE_VERSION = "brain.Event:2"


def event_file_name(when: float) -> str:
    """``events.out.tfevents.<seconds>.<host>``, the name TensorBoard looks for."""
    return f"events.out.tfevents.{int(when):010d}.{socket.gethostname()}"


def record(data: bytes) -> bytes:
    """``data`` framed as one TFRecord: length, its CRC, the data, its CRC."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def _new_file(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """A new file ``name`` in ``folder``, or ``name.1``, ``name.2``... when a file took the name
    (a run resumed within the second it stopped)."""
    for n in itertools.count():
        path = folder / (name if n == 0 else f"{name}.{n}")
        try:
            return path, open(path, "xb+")
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


class EventFile:
    """Events appended to ``folder/events.out.tfevents...``; not thread-safe (one writer thread)."""

    def __init__(self, folder: Path, purge_step: int | None = None) -> None:
        """A new event file in ``folder``; with ``purge_step`` (a resumed run), its first events
        tell TensorBoard to drop what earlier files of the folder hold from that step on."""
        now = time.time()
        self.path, self._file = _new_file(folder, event_file_name(now))
        if purge_step is None:
            self.write(Event(wall_time=now, file_version=FILE_VERSION))
        else:  # what TensorBoard reads as a restart (tensorboardX's SummaryWriter(purge_step=...))
            self.write(Event(wall_time=now, step=purge_step, file_version=FILE_VERSION))
            self.write(Event(wall_time=now, step=purge_step, session_log=SessionLog(status=SessionLog.START)))

    def write(self, event: Event) -> None:
        self._file.write(record(event.SerializeToString()))

    def write_records(self, records: bytes) -> None:
        """Append records already framed (see :mod:`trainscope_tensorboard.scalar_records`)."""
        self._file.write(records)

    def flush(self) -> None:
        """Hand the events to the OS and push them to the disk."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def reattach(self) -> bool:
        """If the file was deleted (its folder removed), create it again at its path with every
        event so far, and write there from now on; True when it did. ``OSError`` if it cannot."""
        self._file.flush()
        if os.fstat(self._file.fileno()).st_nlink > 0:
            return False  # still in a folder (perhaps moved): nothing is lost
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = open(self.path, "xb+")  # noqa: SIM115 - replaces self._file
        try:
            self._file.seek(0)
            shutil.copyfileobj(self._file, new)
            new.flush()
            os.fsync(new.fileno())
        except BaseException:
            new.close()
            raise
        old, self._file = self._file, new
        old.close()
        return True

    def close(self) -> None:
        """Flush, sync and close; closing twice does nothing."""
        if not self._file.closed:
            try:
                self.flush()
            finally:
                self._file.close()


__all__ = ["FILE_VERSION", "EventFile", "event_file_name", "record"]
