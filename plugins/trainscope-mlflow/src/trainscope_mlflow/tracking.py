"""The tracking store: where it is, whether it answers, and the error when it does not."""

from __future__ import annotations

import importlib.util
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from trainscope.plugin_api import PluginFatalError, RunStatus, printable
from trainscope.plugin_api import environment_variables as core_env

MLFLOW_STATUS: Mapping[RunStatus, str] = {
    "completed": "FINISHED",
    "interrupted": "KILLED",
    "failed": "FAILED",
}
"""The MLflow run status each trainscope run status ends as."""


class MlflowTrackingError(PluginFatalError):
    """The tracking store cannot be reached or refused the run; the message names it and the fix.

    Raised at ``trainscope_train_start``, it stops the run before the first epoch.
    """


class MlflowLoggingError(RuntimeError):
    """The tracking store stopped accepting the run's metrics in time; the reporter stops for the run."""


def shown_uri(uri: str) -> str:
    """``uri`` without a password, safe to print."""
    parts = urlsplit(uri)
    if parts.password is None:
        return printable(uri)
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return printable(urlunsplit(parts._replace(netloc=netloc)))


def blocked_hint() -> str:
    return f"or block the reporter with {core_env.TRAINSCOPE_DISABLE_PLUGINS}=mlflow"


DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
"""Tracking URI schemes MLflow serves with SQLAlchemy (a ``+driver`` suffix may follow)."""


def check_store_supported(uri: str) -> None:
    """A database store (MLflow's default local store included) needs SQLAlchemy and Alembic: the
    package depends on them, so this only fails where they were removed."""
    scheme = urlsplit(uri).scheme.partition("+")[0]
    if scheme in DATABASE_SCHEMES and not all(
        importlib.util.find_spec(name) for name in ("sqlalchemy", "alembic")
    ):
        raise MlflowTrackingError(
            f"trainscope-mlflow cannot use the MLflow store {shown_uri(uri)!r}: a database store needs "
            "SQLAlchemy and Alembic (dependencies of trainscope-mlflow, missing here). Install them with "
            "pip install sqlalchemy alembic (or reinstall trainscope-mlflow), or set MLFLOW_TRACKING_URI "
            f"to a tracking server, {blocked_hint()}"
        )


def check_reachable(uri: str, timeout: float) -> None:
    """For an HTTP(S) tracking server, get an HTTP answer (any status) within ``timeout`` seconds or raise.

    Proxy variables apply, as for MLflow. Only reachability is checked, so the
    certificate is not (MLflow checks it, as configured, on its first call). Other
    stores (MLflow's local database or folder, Databricks) are not probed: using them
    fails fast on its own.
    """
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    without_credentials = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(without_credentials, timeout=timeout, context=insecure):
            pass
    except urllib.error.HTTPError:
        return  # it answered
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError):
            reason = "no answer"
        raise MlflowTrackingError(
            f"trainscope-mlflow cannot reach the MLflow tracking server {shown_uri(uri)!r} "
            f"within {timeout:g} s: {printable(getattr(reason, 'strerror', None) or reason)}. "
            f"Start the server, or set MLFLOW_TRACKING_URI to one that answers, {blocked_hint()}"
        ) from exc


__all__ = [
    "DATABASE_SCHEMES",
    "MLFLOW_STATUS",
    "MlflowLoggingError",
    "MlflowTrackingError",
    "check_reachable",
    "check_store_supported",
    "shown_uri",
]
