"""PyTorch-style layers as pure functions of parameters, state and input.

Shapes given to and reported by layers are channels-first like PyTorch; inside,
images are channels-last (NHWC), which XLA runs fastest on CPUs and GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Shape = tuple[int, ...]
LayerParams = dict[str, jax.Array]
"""A layer's arrays by name (``weight``, ``bias``, ``running_mean``, ...)."""

_IMAGE_DIMS = ("NHWC", "HWIO", "NHWC")


def _pair(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 0 for v in pair):
        raise ValueError(f"{what} must be an int or a pair of ints >= 0, got {value!r}")
    return pair[0], pair[1]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _uniform(key: jax.Array, shape: Shape, bound: float) -> jax.Array:
    """Uniform in ``[-bound, bound)``, drawn on the host by NumPy from the bits of ``key``.

    The same key gives the same values. JAX's own generator would compile a program for
    every shape, 0.3-1.2 s each on a CPU, before the first training step. Traced (the
    shapes inferred with ``jax.eval_shape``, or an init inside ``jit``) it is JAX's.
    """
    if isinstance(key, jax.core.Tracer):
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    return jnp.asarray(rng.uniform(-bound, bound, shape).astype(np.float32))


def _filled(shape: Shape, value: float) -> jax.Array:
    """A float32 array of ``value``, made on the host (``jnp.full`` compiles a program per shape)."""
    return jnp.asarray(np.full(shape, value, np.float32))


class Layer:
    """A layer: ``init`` creates its arrays, ``apply`` runs it on a batch.

    ``shape`` arguments are internal per-example shapes (images as ``(H, W, C)``).
    Arrays returned by ``init_state`` are non-trainable (running statistics).
    """

    kind: ClassVar[str] = "Layer"
    prefix: ClassVar[str] = "layer"
    """Stem of the automatic name (``conv`` -> ``conv1``, ``conv2``, ...)."""
    uses_rng: ClassVar[bool] = False

    def args(self) -> str:
        """The text inside the parentheses of the printed ``Kind(args)``."""
        return ""

    def init_params(self, key: jax.Array, shape: Shape) -> LayerParams:
        """The trainable arrays for an input of per-example ``shape``."""
        return {}

    def init_state(self, shape: Shape) -> LayerParams:
        """The non-trainable arrays for an input of per-example ``shape``."""
        return {}

    def apply(
        self,
        params: LayerParams,
        state: LayerParams,
        x: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, LayerParams]:
        """Run the layer on batch ``x``; returns the output and the new state.

        Layers without state or randomness implement :meth:`forward` instead.
        """
        return self.forward(params, x), state

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        """The output for batch ``x``, for layers whose ``apply`` needs only their parameters."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.kind}({self.args()})"


class Conv2d(Layer):
    """2-D convolution: ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)``."""

    kind = "Conv2d"
    prefix = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
    ) -> None:
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d channels must be >= 1, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.bias = bias

    def args(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={_flag(self.bias)}"
        )

    def init_params(self, key: jax.Array, shape: Shape) -> LayerParams:
        if len(shape) != 3 or shape[-1] != self.in_channels:
            raise ValueError(
                f"{self!r} expects {self.in_channels} input channels (C, H, W), got input {to_chw(shape)}"
            )
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        params = {
            "weight": _uniform(key, (kh, kw, self.in_channels, self.out_channels), math.sqrt(6 / fan_in))
        }
        if self.bias:
            params["bias"] = _filled((self.out_channels,), 0.0)
        return params

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        (ph, pw) = self.padding
        y = lax.conv_general_dilated(
            x, params["weight"], self.stride, ((ph, ph), (pw, pw)), dimension_numbers=_IMAGE_DIMS
        )
        if self.bias:
            y = y + params["bias"]
        return y


class Linear(Layer):
    """Fully connected layer; an input with more than one feature dimension is flattened first."""

    kind = "Linear"
    prefix = "fc"

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear features must be >= 1, got {in_features}, {out_features}")
        self.in_features, self.out_features, self.bias = in_features, out_features, bias

    def args(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={_flag(self.bias)}"

    def init_params(self, key: jax.Array, shape: Shape) -> LayerParams:
        if math.prod(shape) != self.in_features:
            raise ValueError(
                f"{self!r} expects {self.in_features} input features, got input {to_chw(shape)} "
                f"= {math.prod(shape)} features"
            )
        params = {
            "weight": _uniform(key, (self.in_features, self.out_features), math.sqrt(6 / self.in_features))
        }
        if self.bias:
            params["bias"] = _filled((self.out_features,), 0.0)
        return params

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        y = x @ params["weight"]
        if self.bias:
            y = y + params["bias"]
        return y


class ReLU(Layer):
    """``max(x, 0)``."""

    kind = "ReLU"
    prefix = "relu"

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        return jax.nn.relu(x)


class _Pool2d(Layer):
    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self._raw = (kernel_size, kernel_size if stride is None else stride, padding)

    def args(self) -> str:
        kernel, stride, padding = self._raw
        return f"kernel_size={kernel}, stride={stride}, padding={padding}"

    def _window(self, x: jax.Array, init: float, op: Callable[..., Any]) -> jax.Array:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        pad = ((0, 0), (ph, ph), (pw, pw), (0, 0))
        return lax.reduce_window(x, init, op, (1, kh, kw, 1), (1, sh, sw, 1), pad)


class MaxPool2d(_Pool2d):
    """Max over ``kernel_size`` windows (stride defaults to the kernel size)."""

    kind = "MaxPool2d"
    prefix = "pool"

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        return self._window(x, -jnp.inf, lax.max)


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` windows, zero padding included (PyTorch's default)."""

    kind = "AvgPool2d"
    prefix = "avgpool"

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        kh, kw = self.kernel_size
        return self._window(x, 0.0, lax.add) / (kh * kw)


class Flatten(Layer):
    """Flattens every dimension but the batch."""

    kind = "Flatten"
    prefix = "flatten"

    def args(self) -> str:
        return "start_dim=1, end_dim=-1"

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1)


class Dropout(Layer):
    """Zeroes a fraction ``p`` of the inputs while training and rescales the rest."""

    kind = "Dropout"
    prefix = "dropout"
    uses_rng = True

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"Dropout p must be in [0, 1), got {p}")
        self.p = p

    def args(self) -> str:
        return f"p={self.p}"

    def apply(
        self,
        params: LayerParams,
        state: LayerParams,
        x: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, LayerParams]:
        if not train or self.p == 0:
            return x, state
        if key is None:
            raise ValueError("Dropout needs a random key while training")
        keep = jax.random.bernoulli(key, 1 - self.p, x.shape)
        return jnp.where(keep, x / (1 - self.p), 0).astype(x.dtype), state


class BatchNorm2d(Layer):
    """Batch normalisation over (N, H, W); ``running_mean``/``running_var`` are non-trainable."""

    kind = "BatchNorm2d"
    prefix = "bn"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        if num_features < 1:
            raise ValueError(f"BatchNorm2d num_features must be >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum

    def args(self) -> str:
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"

    def _check(self, shape: Shape) -> None:
        if len(shape) != 3 or shape[-1] != self.num_features:
            raise ValueError(f"{self!r} expects {self.num_features} channels (C, H, W), got {to_chw(shape)}")

    def init_params(self, key: jax.Array, shape: Shape) -> LayerParams:
        self._check(shape)
        c = self.num_features
        return {"weight": _filled((c,), 1.0), "bias": _filled((c,), 0.0)}

    def init_state(self, shape: Shape) -> LayerParams:
        self._check(shape)
        c = self.num_features
        return {"running_mean": _filled((c,), 0.0), "running_var": _filled((c,), 1.0)}

    def apply(
        self,
        params: LayerParams,
        state: LayerParams,
        x: jax.Array,
        *,
        train: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[jax.Array, LayerParams]:
        if train:
            mean = x.mean(axis=(0, 1, 2))
            var = x.var(axis=(0, 1, 2))
            n = x.size // x.shape[-1]
            unbiased = var * (n / max(n - 1, 1))
            m = self.momentum
            state = {
                "running_mean": (1 - m) * state["running_mean"] + m * lax.stop_gradient(mean),
                "running_var": (1 - m) * state["running_var"] + m * lax.stop_gradient(unbiased),
            }
        else:
            mean, var = state["running_mean"], state["running_var"]
        y = (x - mean) * lax.rsqrt(var + self.eps)
        return y * params["weight"] + params["bias"], state


class Softmax(Layer):
    """Softmax over the last dimension. A model ending in it trains on the logits before it."""

    kind = "Softmax"
    prefix = "softmax"

    def args(self) -> str:
        return "dim=-1"

    def forward(self, params: LayerParams, x: jax.Array) -> jax.Array:
        return jax.nn.softmax(x, axis=-1)


def to_chw(shape: Shape) -> Shape:
    """An internal (H, W, C) shape as PyTorch's (C, H, W); other ranks unchanged."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


__all__ = [
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Layer",
    "LayerParams",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Softmax",
    "to_chw",
]
