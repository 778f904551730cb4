"""Hook implementations of trainscope-jax: the ``train`` and ``doctor`` commands."""

from __future__ import annotations

import click

from trainscope import hookimpl


@hookimpl
def trainscope_register_commands(cli: click.Group) -> None:
    """Add ``trainscope train`` and ``trainscope doctor``."""
    from trainscope_jax.devices.doctor import doctor_command
    from trainscope_jax.train_command import train_command

    cli.add_command(train_command)
    cli.add_command(doctor_command)
