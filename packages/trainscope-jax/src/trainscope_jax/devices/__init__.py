"""Devices: choosing Metal, a GPU or the CPU (selection), probing a platform in a
subprocess (probe), and diagnosing an installation (doctor)."""

from __future__ import annotations

from trainscope_jax.devices.selection import (
    DeviceChoice,
    DeviceSelectionError,
    check_dtype_supported,
    select_device,
)

__all__ = ["DeviceChoice", "DeviceSelectionError", "check_dtype_supported", "select_device"]
