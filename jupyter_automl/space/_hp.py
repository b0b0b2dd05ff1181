"""The search space: ``hp.int/float/choice/bool/fixed``, its validation and the static AST read.

``hp`` is one module-level object bound to the trial that is running in this thread (a context
variable), so helper functions defined in other cells can call it too. Outside a trial every
call is an error that says where ``hp`` works.
"""

from __future__ import annotations

import ast
import contextvars
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .._optuna import given_params
from ..errors import SpaceError

if TYPE_CHECKING:  # optuna is imported lazily by the study module; only typing needs it here
    import optuna

KINDS = ("int", "float", "choice", "bool", "fixed")
_PRIMITIVE = (type(None), bool, int, float, str)


@dataclass
class ParamSpec:
    """One parameter of the space as written in the cell (or built in the space builder)."""

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: list[Any] | None = None
    value: Any = None
    line: int | None = None  # 1-based line in the cell; None when not from a cell
    exact: bool = True  # False when some argument is not a literal (computed at run time)
    mutable: bool = False  # --scheduler pbt may change it while the model trains

    def describe(self) -> str:
        mutable = " mutable" if self.mutable else ""
        if self.kind in ("int", "float"):
            extra = "" if self.step is None or (self.kind == "int" and self.step == 1) \
                else f" step {self.step}"
            return (f"{self.kind} {self.low}..{self.high}{extra}{' log' if self.log else ''}"
                    f"{mutable}")
        if self.kind == "choice":
            return f"choice {self.choices}{mutable}"
        return "bool" if self.kind == "bool" else f"fixed {self.value!r}"

    @property
    def where(self) -> str:
        """How messages name it: ``hp.int('units', line 3)``."""
        return f"hp.{self.kind}({self.name!r}" + (f", line {self.line})" if self.line else ")")

    def same_range(self, other: ParamSpec) -> bool:
        keys = ("kind", "low", "high", "step", "log", "choices", "value", "mutable")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    def distribution(self) -> Any:
        """The Optuna distribution ``hp`` draws this parameter from."""
        from optuna import distributions as d

        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high),  # type: ignore[arg-type]
                                     step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return d.FloatDistribution(float(self.low), float(self.high),  # type: ignore[arg-type]
                                       step=self.step, log=self.log)
        labels = [False, True] if self.kind == "bool" else (
            list(self.choices or []) if self.kind == "choice" else [self.value])
        return d.CategoricalDistribution(labels)

    def to_dict(self) -> dict[str, Any]:
        """Its fields, without the empty ones (a fixed value and ``exact`` are always kept)."""
        keep = {"name", "kind", "exact"} | ({"value"} if self.kind == "fixed" else set())
        return {k: v for k, v in asdict(self).items()
                if k in keep or (v is not None and v is not False)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParamSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def validate(spec: ParamSpec) -> None:
    """Raise :class:`SpaceError` naming the parameter if ``spec`` cannot be sampled."""
    where = spec.where
    if spec.kind not in KINDS:
        raise SpaceError(f"{where}: unknown kind {spec.kind!r}; use one of {', '.join(KINDS)}")
    if spec.kind in ("int", "float"):
        _validate_range(spec, where)
    elif spec.kind == "choice":
        if spec.choices is not None and len(spec.choices) == 0:
            raise SpaceError(f"{where}: the list of options is empty; give at least one option")


def _validate_range(spec: ParamSpec, where: str) -> None:
    low, high, step = spec.low, spec.high, spec.step
    if low is None or high is None:
        return  # computed at run time; checked again when the trial calls hp
    for label, v in (("low", low), ("high", high), ("step", step)):
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                              or not math.isfinite(v)):
            raise SpaceError(f"{where}: {label}={v!r} must be a finite number")
    if spec.kind == "int" and not all(float(v).is_integer() for v in (low, high, step or 1)):
        raise SpaceError(f"{where}: low, high and step must be whole numbers for hp.int; "
                         "use hp.float for fractional ranges")
    if low >= high:
        raise SpaceError(f"{where}: low={low} must be below high={high}; swap them, or use "
                         f"hp.fixed({spec.name!r}, {low}) for a constant")
    if spec.log and low <= 0:
        raise SpaceError(f"{where}: log=True needs low > 0, got low={low}; start the range at a "
                         "small positive number such as 1e-5")
    if step is not None and step <= 0:
        raise SpaceError(f"{where}: step={step} must be positive")
    if spec.log and step not in ((None, 1) if spec.kind == "int" else (None,)):
        raise SpaceError(f"{where}: log=True cannot be combined with step={step}; drop one")
    if step is not None and step > high - low:
        raise SpaceError(f"{where}: step={step} is larger than the range {low}..{high}")


def check_space(specs: Sequence[ParamSpec]) -> None:
    """The checks of a whole space: every parameter on its own, then one range per name."""
    for spec in specs:
        validate(spec)
    check_consistent(specs)


def check_consistent(specs: Sequence[ParamSpec]) -> None:
    """One name must not be given two different ranges."""
    seen: dict[str, ParamSpec] = {}
    for spec in specs:
        if not spec.exact:
            continue
        first = seen.setdefault(spec.name, spec)
        if not first.same_range(spec):
            lines = f" (lines {first.line} and {spec.line})" if spec.line else ""
            raise SpaceError(
                f"parameter {spec.name!r} is defined twice with different ranges{lines}: "
                f"{first.describe()} vs {spec.describe()}; give each range its own name"
            )


# ---------------------------------------------------------------------------------------------
# The run-time API


class TrialSpace:
    """The parameters one trial has drawn, bound to its Optuna trial.

    ``overrides`` (a saved space, ``--space NAME``) replace the cell's ranges by name.
    ``mix`` (``--darts``) is what a choice the trial was not given returns instead of one
    option: ``mix(where, name, labels, options)``, the options mixed.
    """

    def __init__(self, trial: optuna.Trial,
                 overrides: dict[str, ParamSpec] | None = None,
                 mix: Callable[[str, str, list[Any], list[Any]], Any] | None = None) -> None:
        self.trial = trial
        self.overrides = overrides or {}
        self.specs: dict[str, ParamSpec] = {}
        self.mix = mix

    def given(self, name: str) -> bool:
        """Whether the trial came with ``name``'s value (a retrain, a retry, an enqueued
        trial), rather than drawing it."""
        return name in given_params(self.trial)


_current: contextvars.ContextVar[TrialSpace | None] = contextvars.ContextVar(
    "jupyter_automl_trial", default=None
)


def bind(space: TrialSpace | None) -> contextvars.Token[TrialSpace | None]:
    return _current.set(space)


def unbind(token: contextvars.Token[TrialSpace | None]) -> None:
    _current.reset(token)


class HyperParameters:
    """``hp``: define-by-run hyperparameters for the trial that is running.

    Each call draws the named parameter for the current trial (the sampler picks it) and
    returns its value; calling the same name again in one trial returns the same value.
    Before any trial runs, the cell's ``hp`` calls are read from its source and checked, so a
    range that cannot be sampled fails at once with a :class:`~jupyter_automl.errors.SpaceError`
    naming the parameter and its line.

    Example:
        >>> import jupyter_automl
        >>> source = '''
        ... layers = hp.int("layers", 1, 3)
        ... lr = hp.float("lr", 1e-4, 1e-1, log=True)
        ... optimizer = hp.choice("optimizer", ["adam", "sgd"])
        ... batch_norm = hp.bool("batch_norm")
        ... epochs = hp.fixed("epochs", 10)
        ... layers * lr + (optimizer == "sgd") - batch_norm / 2
        ... '''
        >>> result = jupyter_automl.run_study(source, "space --trials 2",
        ...                                   listeners=[])  # doctest: +ELLIPSIS
        study 'space': 2/2 trials (2 complete, 0 pruned, 0 failed)
        ...
        >>> sorted(result.trials[0]["params"])
        ['batch_norm', 'epochs', 'layers', 'lr', 'optimizer']
        >>> result.trials[0]["params"]["epochs"]
        10

        A range that cannot be sampled stops the study before its first trial:

        >>> jupyter_automl.run_study('hp.int("units", 128, 16)', "bad")
        Traceback (most recent call last):
        ...
        jupyter_automl.errors.SpaceError: hp.int('units', line 1): low=128 must be below high=16; \
swap them, or use hp.fixed('units', 128) for a constant
    """

    def int(self, name: str, low: int, high: int, step: int = 1, log: bool = False,
            mutable: bool = False) -> int:
        """An integer in ``[low, high]``, both included.

        Args:
            name: The parameter's name, unique in the study.
            low: The smallest value.
            high: The largest value (above ``low``).
            step: Only ``low``, ``low + step``, ... (not with ``log``).
            log: Sample on a log scale (``low`` at least 1): for sizes spanning magnitudes.
            mutable: ``--scheduler pbt`` may change it between generations of training.

        Returns:
            The trial's value.

        Raises:
            SpaceError: Called outside a trial, or a range that cannot be sampled.
        """
        return self._draw(ParamSpec(name, "int", low=low, high=high, step=step, log=log,
                                    mutable=bool(mutable)))

    def float(self, name: str, low: float, high: float, step: float | None = None,
              log: bool = False, mutable: bool = False) -> float:
        """A float in ``[low, high]``.

        Args:
            name: The parameter's name, unique in the study.
            low: The smallest value.
            high: The largest value (above ``low``).
            step: Discretise the range: only ``low``, ``low + step``, ... (not with ``log``).
            log: Sample on a log scale (``low`` above 0): learning rates, weight decays.
            mutable: ``--scheduler pbt`` may change it between generations of training (a
                learning rate, an augmentation's magnitude).

        Returns:
            The trial's value.

        Raises:
            SpaceError: Called outside a trial, or a range that cannot be sampled.
        """
        return self._draw(ParamSpec(name, "float", low=low, high=high, step=step, log=log,
                                    mutable=bool(mutable)))

    def choice(self, name: str, options: Any, mutable: bool = False) -> Any:
        """One of ``options``.

        Args:
            name: The parameter's name, unique in the study.
            options: The options, in a list: numbers, strings, None, or any objects (a Keras
                layer, a function); those are stored by a label (a function's name, a layer's
                class and settings) and the cell gets the object itself.
            mutable: ``--scheduler pbt`` may move it to a neighbouring option.

        Returns:
            The option the trial drew.

        Raises:
            SpaceError: Called outside a trial, no options, or two options with one label.
        """
        options = list(options)
        labels = [_label(o) for o in options]
        if len(set(labels)) != len(labels):
            raise SpaceError(f"hp.choice({name!r}): options {labels} are not distinct")
        space = _current.get()
        if space is not None and space.mix is not None and not space.given(name):
            spec = ParamSpec(name, "choice", choices=labels)
            self._register(spec)
            return space.mix(spec.where, name, labels, options)
        return self._draw(ParamSpec(name, "choice", choices=labels, mutable=bool(mutable)),
                          dict(zip(labels, options)))

    def bool(self, name: str) -> bool:
        """``True`` or ``False``.

        Args:
            name: The parameter's name, unique in the study.

        Returns:
            The trial's value.
        """
        return bool(self._draw(ParamSpec(name, "bool")))

    def fixed(self, name: str, value: Any) -> Any:
        """A constant, recorded with the trial's parameters (handy to compare studies).

        Args:
            name: The parameter's name, unique in the study.
            value: The value, returned as it is.

        Returns:
            ``value``.
        """
        return self._draw(ParamSpec(name, "fixed", value=_label(value)), {_label(value): value})

    def _draw(self, spec: ParamSpec, objects: dict[Any, Any] | None = None) -> Any:
        space = self._register(spec)
        return _suggest(space.trial, space.overrides.get(spec.name, spec), objects or {})

    def _register(self, spec: ParamSpec) -> TrialSpace:
        space = _current.get()
        if space is None:
            raise SpaceError(
                f"hp.{spec.kind}({spec.name!r}) was called outside a trial; hp works inside an "
                "%%automl cell (and in functions that cell calls)"
            )
        if not isinstance(spec.name, str) or not spec.name:
            raise SpaceError(f"hp.{spec.kind}: the parameter name must be a non-empty string, "
                             f"got {spec.name!r}")
        validate(spec)
        first = space.specs.setdefault(spec.name, spec)
        if not first.same_range(spec):
            raise SpaceError(
                f"parameter {spec.name!r} is defined twice with different ranges: "
                f"{first.describe()} vs {spec.describe()}; give each range its own name"
            )
        return space

    def __repr__(self) -> str:
        return "<jupyter_automl hp: int, float, choice, bool, fixed>"


def _suggest(trial: optuna.Trial, spec: ParamSpec, objects: dict[Any, Any]) -> Any:
    """Draw ``spec`` from ``trial``; a choice's label maps back to the cell's own object."""
    assert spec.low is not None or spec.kind not in ("int", "float")
    if spec.kind == "int":
        return trial.suggest_int(spec.name, int(spec.low), int(spec.high),  # type: ignore[arg-type]
                                 step=int(spec.step or 1), log=spec.log)
    if spec.kind == "float":
        return trial.suggest_float(spec.name, float(spec.low),  # type: ignore[arg-type]
                                   float(spec.high), step=spec.step,  # type: ignore[arg-type]
                                   log=spec.log)
    labels = [False, True] if spec.kind == "bool" else (
        list(spec.choices or []) if spec.kind == "choice" else [spec.value])
    label = trial.suggest_categorical(spec.name, labels)
    return objects.get(label, label)


def _label(option: Any) -> Any:
    if isinstance(option, _PRIMITIVE):
        return option
    name = getattr(option, "__name__", None)
    if name:
        return name
    if callable(getattr(option, "get_config", None)) and hasattr(option, "built"):
        return _layer_label(option)
    return repr(option)


# what tells a Keras layer from another of its class (its name is numbered as layers are made,
# so it differs from trial to trial)
_LAYER_SETTINGS = ("units", "filters", "kernel_size", "strides", "pool_size", "rate",
                   "activation")


def _layer_label(layer: Any) -> str:
    """A Keras layer option's label: its class and settings, ``Dense(32, relu)``."""
    try:
        config = layer.get_config()
    except Exception:  # noqa: BLE001 - a layer whose config cannot be read: its class alone
        config = {}
    settings = [str(config[k]) for k in _LAYER_SETTINGS
                if config.get(k) not in (None, "linear", (1, 1), (1,))]
    return f"{type(layer).__name__}({', '.join(settings)})" if settings else type(layer).__name__


hp = HyperParameters()


# ---------------------------------------------------------------------------------------------
# The static read


@dataclass
class StaticSpace:
    """What the AST of a cell says about its space, found before any trial runs."""

    params: list[ParamSpec] = field(default_factory=list)


_ARGS = {
    "int": ("name", "low", "high", "step", "log", "mutable"),
    "float": ("name", "low", "high", "step", "log", "mutable"),
    "choice": ("name", "options", "mutable"),
    "bool": ("name",),
    "fixed": ("name", "value"),
}
_UNKNOWN = object()


def read_space(tree: ast.Module) -> StaticSpace:
    """Find every ``hp.<kind>(...)`` call in ``tree`` and validate the literal ones."""
    params = [spec for node in ast.walk(tree) if (spec := _spec_of(node)) is not None]
    params.sort(key=lambda p: p.line or 0)
    check_space(params)
    return StaticSpace(params)


def _spec_of(node: ast.AST) -> ParamSpec | None:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "hp"
            and node.func.attr in _ARGS):
        return None
    kind = node.func.attr
    args: dict[str, Any] = dict(zip(_ARGS[kind], node.args))
    args.update({k.arg: k.value for k in node.keywords if k.arg})
    values = {k: _literal(v) for k, v in args.items()}
    name_node = args.get("name")
    literal_name = values.get("name")
    if isinstance(name_node, ast.JoinedStr):  # f"units_{i}": keep the pattern
        name = ast.unparse(name_node)[2:-1]
    elif isinstance(literal_name, str):
        name = literal_name
    else:
        name = ast.unparse(name_node) if name_node is not None else "?"
    exact = all(v is not _UNKNOWN for v in values.values()) and isinstance(name_node, ast.Constant)
    spec = ParamSpec(name, kind, line=node.lineno, exact=exact,
                     mutable=values.get("mutable") is True)
    if kind in ("int", "float"):
        for key in ("low", "high", "step"):
            v = values.get(key)
            setattr(spec, key, None if v is _UNKNOWN else v)
        spec.log = values.get("log") is True
        if kind == "int" and spec.step is None and "step" not in values:
            spec.step = 1
    elif kind == "choice":
        options = values.get("options")
        spec.choices = [_label(o) for o in options] if isinstance(options, (list, tuple)) else None
    elif kind == "fixed":
        value = values.get("value")
        spec.value = None if value is _UNKNOWN else value
    return spec


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN
