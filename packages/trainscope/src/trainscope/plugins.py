"""The plugin manager: finds reporters through entry points and calls them safely."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, cast

import pluggy

from trainscope import environment_variables as env_vars
from trainscope import hookspecs
from trainscope.health.alerts import Alert
from trainscope.hookspecs import PROJECT_NAME
from trainscope.plugin_types import (
    PluginError,
    PluginFatalError,
    PluginInfo,
    RequiredPluginError,
    is_required,
    parse_name_list,
    runs_on_every_process,
    warn_plugin,
    writes_to_an_external_store,
)
from trainscope.resume import ResumePoint, no_resume_plugin
from trainscope.run import EpochSummary, EvaluationSummary, PhaseInfo, RunInfo, RunStatus, StepRecords

if TYPE_CHECKING:
    import click


_NOT_CALLING = object()
"""No hook call is in progress on this thread."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """pluggy's manager plus entry-point loading, plugin status and reporter isolation.

    Each hook has a typed method (``train_start``, ``progress``, ...). A hook
    implementation that raises disables its plugin with one :class:`PluginWarning`
    naming the plugin and the hook; with ``strict``, or from a required plugin, the
    exception propagates.
    """

    def __init__(self, *, strict: bool = False, trace: bool = False) -> None:
        self.strict = strict
        self.trace = trace
        self.process_index = 0
        """The process this manager reports for: on any but process 0, only plugins that opt
        in (``trainscope_all_processes = True``) are called."""
        self.pluggy = pluggy.PluginManager(PROJECT_NAME)
        self.pluggy.add_hookspecs(hookspecs)
        self._infos: dict[str, PluginInfo] = {}
        self._errors = threading.local()
        """The first error of the hook call in progress, per thread (a peer watcher calls too)."""

    # -- registration ----------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object (a module, class instance, ...) and return its name."""
        try:
            registered = self.pluggy.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r} cannot be registered: {exc}") from exc
        if registered is None:  # pragma: no cover - only for blocked names
            raise PluginError(f"plugin name {name!r} is blocked")
        for caller in self.pluggy.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    # pluggy calls what HookImpl.function holds: wrapped, each reporter's error
                    # stays its own while pluggy keeps its ordering, wrappers and firstresult
                    impl.function = self._isolated(impl, caller.name)  # type: ignore[misc]
        info = self._infos.setdefault(registered, PluginInfo(name=registered))
        info.hooks = self._hooks_of(plugin)
        info.enabled, info.reason = True, None
        return registered

    def _hooks_of(self, plugin: object) -> list[str]:
        callers = self.pluggy.get_hookcallers(plugin) or []
        return sorted(caller.name for caller in callers)

    def unregister(self, plugin: object | None = None, *, name: str | None = None) -> None:
        """Remove a plugin registered for a while (by object or name); its name stays usable.

        Unlike :meth:`block`, nothing is marked: the same name may be registered again.
        Does nothing for a plugin that is not registered.
        """
        if plugin is None and name is not None:
            plugin = self.pluggy.get_plugin(name)
        if plugin is not None and self.pluggy.is_registered(plugin):
            registered = self.pluggy.get_name(plugin)
            self.pluggy.unregister(plugin)
            if registered is not None:
                self._infos.pop(registered, None)

    def block(self, name: str, reason: str) -> None:
        """Prevent a plugin from loading (or unregister it), recording why."""
        if self.pluggy.has_plugin(name):
            self.pluggy.unregister(name=name)
        self.pluggy.set_blocked(name)
        info = self._infos.setdefault(name, PluginInfo(name=name))
        info.enabled, info.reason = False, reason

    def load_entry_points(self, *, allow: Sequence[str] | None, blocked: Mapping[str, str]) -> None:
        """Load every entry point of group ``trainscope`` that is allowed and not blocked.

        ``allow`` None means every name is allowed; ``blocked`` maps names to the
        reason they are blocked. A plugin whose import fails gives one warning.
        """
        found = sorted(entry_points(group=PROJECT_NAME), key=lambda ep: ep.name)
        names = {ep.name.lower() for ep in found}
        for name in sorted((set(blocked) | set(allow or ())) - names):
            warn_plugin(
                f"trainscope: no plugin named {name!r} is installed "
                f"(installed: {', '.join(sorted(names)) or 'none'})"
            )
        for ep in found:
            info = self._info_for(ep)
            key = ep.name.lower()
            if key in blocked:
                self.block(ep.name, blocked[key])
            elif allow is not None and key not in allow:
                self.block(ep.name, f"not listed in {env_vars.TRAINSCOPE_PLUGINS}")
            elif self.pluggy.has_plugin(ep.name):
                info.reason = "duplicate name: another distribution registered it first"
            else:
                self._load(ep, info)
        self.check_pending()

    def _info_for(self, ep: EntryPoint) -> PluginInfo:
        info = self._infos.setdefault(ep.name, PluginInfo(name=ep.name))
        if ep.dist is not None:
            info.distribution = ep.dist.name
            info.version = ep.dist.version
        return info

    def _load(self, ep: EntryPoint, info: PluginInfo) -> None:
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import error disables only this plugin
            info.enabled, info.reason = False, f"import failed: {type(exc).__name__}: {exc}"
            warn_plugin(
                f"trainscope: plugin {ep.name!r} ({ep.value}) could not be imported and is "
                f"skipped: {type(exc).__name__}: {exc}"
            )
            return
        self.register(plugin, name=ep.name)

    def check_pending(self) -> None:
        """Fail loudly on a hook implementation whose name matches no hook."""
        try:
            self.pluggy.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"{exc} (known hooks: {', '.join(hookspecs.HOOK_NAMES)}); "
                "fix the hook name in the plugin, or block it with "
                f"{env_vars.TRAINSCOPE_DISABLE_PLUGINS}"
            ) from exc

    def list_plugins(self) -> list[PluginInfo]:
        """Every plugin seen: loaded, blocked or failed."""
        return [self._infos[name] for name in sorted(self._infos)]

    def enabled_names(self) -> list[str]:
        return [info.name for info in self.list_plugins() if info.enabled]

    def external_store_names(self) -> list[str]:
        """The registered plugins that write to a store of their own (:func:`writes_to_an_external_store`)."""
        plugins = self.pluggy.list_name_plugin()
        return sorted(name for name, plugin in plugins if writes_to_an_external_store(plugin))

    # -- calling ---------------------------------------------------------------

    def _call(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation of ``hook_name``, each exactly once.

        An error is contained (the plugin is disabled with a warning) unless it is a
        :class:`PluginFatalError`, ``strict`` is on, the plugin is required (see
        :func:`is_required`: the error is raised as a :class:`RequiredPluginError` and the
        plugin stays registered, so its ``train_end`` still runs), or it is not an
        ``Exception`` (Ctrl-C, ``SystemExit``). Even then the other plugins still get this
        call, so that each of them sees every batch and every ``train_end``; the first
        such error is raised once all of them ran.
        """
        hook = getattr(self.pluggy.hook, hook_name)
        if self.trace:
            names = ", ".join(impl.plugin_name for impl in reversed(hook.get_hookimpls())) or "no plugin"
            print(f"trainscope: {hook_name} -> {names}", file=sys.stderr)
        errors = self._errors.__dict__
        outer = errors.get("raised", _NOT_CALLING)
        errors["raised"] = None
        try:
            hook(**kwargs)  # pluggy's own call: tryfirst, trylast, wrappers and firstresult as it documents
            raised = errors["raised"]
        finally:
            errors["raised"] = outer
        if raised is not None:
            raise raised

    def _isolated(self, impl: pluggy.HookImpl, hook_name: str) -> Callable[..., Any]:
        """``impl``'s function, called as :meth:`_call` promises: on process 0 only unless the
        plugin runs on every process, and with its error contained or kept for the end of the call."""
        function, plugin, name = impl.function, impl.plugin, impl.plugin_name

        def call(*args: Any) -> Any:
            if self.process_index and not runs_on_every_process(plugin):
                return None
            try:
                return function(*args)
            except PluginFatalError as exc:
                self._keep(exc)
            except Exception as exc:  # noqa: BLE001 - contained: the plugin is disabled
                if is_required(plugin):
                    self._keep(RequiredPluginError.after(name, hook_name, exc))
                elif self.strict:
                    self._keep(exc)
                else:
                    self._disable_after_error(name, hook_name, exc)
            except BaseException as exc:  # noqa: BLE001 - Ctrl-C or SystemExit, raised after the others ran
                self._keep(exc)
            return None

        return call

    def _keep(self, error: BaseException) -> None:
        """Note the first error of the hook call in progress on this thread (raised at its end)."""
        errors = self._errors.__dict__
        if errors.get("raised", _NOT_CALLING) is _NOT_CALLING:
            raise error  # called outside :meth:`_call` (pluggy's hook used directly)
        if errors["raised"] is None:
            errors["raised"] = error

    def _disable_after_error(self, name: str, hook_name: str, exc: Exception) -> None:
        warn_plugin(
            f"trainscope: plugin {name!r} raised in {hook_name} and is disabled for the rest "
            f"of this run: {type(exc).__name__}: {exc} "
            f"(set {env_vars.TRAINSCOPE_STRICT}=1 to re-raise)"
        )
        if self.pluggy.has_plugin(name):
            self.pluggy.unregister(name=name)
        info = self._infos.setdefault(name, PluginInfo(name=name))
        info.enabled = False
        info.reason = f"disabled after {type(exc).__name__} in {hook_name}"

    def train_start(self, run: RunInfo) -> None:
        self._call("trainscope_train_start", run=run)

    def train_ready(self, run: RunInfo) -> None:
        self._call("trainscope_train_ready", run=run)

    def epoch_start(self, run: RunInfo, epoch: int) -> None:
        self._call("trainscope_epoch_start", run=run, epoch=epoch)

    def phase_start(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._call("trainscope_phase_start", run=run, phase=phase)

    def progress(self, run: RunInfo, phase: PhaseInfo, records: StepRecords) -> None:
        self._call("trainscope_progress", run=run, phase=phase, records=records)

    def phase_end(self, run: RunInfo, phase: PhaseInfo) -> None:
        self._call("trainscope_phase_end", run=run, phase=phase)

    def evaluation_end(self, run: RunInfo, summary: EvaluationSummary) -> None:
        self._call("trainscope_evaluation_end", run=run, summary=summary)

    def epoch_end(self, run: RunInfo, epoch: int, summary: EpochSummary) -> None:
        self._call("trainscope_epoch_end", run=run, epoch=epoch, summary=summary)

    def alert(self, run: RunInfo, alert: Alert) -> None:
        self._call("trainscope_alert", run=run, alert=alert)

    def train_end(self, run: RunInfo, status: RunStatus, error: BaseException | None) -> None:
        """Call ``trainscope_train_end`` (the session calls it once per run, on any thread:
        see :meth:`trainscope.TrainingSession.end`)."""
        self._call("trainscope_train_end", run=run, status=status, error=error)

    def resume_point(self, run: RunInfo, resume: str, at: int | None) -> ResumePoint:
        """Ask the plugins where the run ``resume`` names goes on (``trainscope_resume_point``).

        A plugin's :class:`~trainscope.resume.ResumeError` (a fatal error) is raised as it is; when
        no plugin answers, the error says which reporter reads run logs.
        """
        errors = self._errors.__dict__
        outer = errors.get("raised", _NOT_CALLING)
        errors["raised"] = None
        try:
            point = self.pluggy.hook.trainscope_resume_point(run=run, resume=resume, at=at)
            raised = errors["raised"]
        finally:
            errors["raised"] = outer
        if raised is not None:
            raise raised
        if point is None:
            raise no_resume_plugin(resume)
        return cast("ResumePoint", point)

    def register_commands(self, cli: click.Group) -> None:
        self._call("trainscope_register_commands", cli=cli)


def _object_name(plugin: object, taken: pluggy.PluginManager) -> str:
    """A readable, unused name for a plugin object: its ``__name__`` or class name."""
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, n = base, 1
    while taken.has_plugin(name) or taken.is_blocked(name):
        n += 1
        name = f"{base}-{n}"
    return name


def create_plugin_manager(
    *,
    plugins: Iterable[object] | None = None,
    disable: Iterable[str] = (),
    disable_reason: str = "blocked by disable=",
    strict: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> PluginManager:
    """Build a plugin manager.

    ``plugins`` None loads every installed entry point, filtered by
    ``TRAINSCOPE_PLUGINS`` (allow-list) and ``TRAINSCOPE_DISABLE_PLUGINS``
    (block-list). A list loads exactly its items: a string names an entry point
    to load, any other object is registered as a plugin. ``disable`` blocks names
    in both cases; ``strict`` None reads ``TRAINSCOPE_STRICT``.
    """
    environ = os.environ if environ is None else environ
    if strict is None:
        strict = _truthy(environ.get(env_vars.TRAINSCOPE_STRICT))
    manager = PluginManager(strict=strict, trace=_truthy(environ.get(env_vars.TRAINSCOPE_TRACE_PLUGINS)))

    blocked = {
        name: f"blocked by {env_vars.TRAINSCOPE_DISABLE_PLUGINS}"
        for name in parse_name_list(environ.get(env_vars.TRAINSCOPE_DISABLE_PLUGINS))
    }
    blocked.update({name.lower(): disable_reason for name in disable})

    allow: list[str] | None
    objects: list[object] = []
    if plugins is None:
        allow_text = environ.get(env_vars.TRAINSCOPE_PLUGINS)
        allow = None if allow_text is None else parse_name_list(allow_text)
    else:
        items = list(plugins)
        allow = [item.lower() for item in items if isinstance(item, str)]
        objects = [item for item in items if not isinstance(item, str)]

    for obj in objects:
        manager.register(obj, name=_object_name(obj, taken=manager.pluggy))
    if plugins is None or allow:
        manager.load_entry_points(allow=allow, blocked=blocked)
    else:
        manager.check_pending()
    return manager
