"""The ``mlflow`` reporter's hook implementations (entry point ``mlflow``)."""

from __future__ import annotations
