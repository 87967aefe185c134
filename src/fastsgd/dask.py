"""Data-parallel SGD on dask arrays over a ``dask.distributed`` cluster.

The rows of ``X`` are split into blocks that live on the workers (dask arrays
chunked along rows); the model's parameters, d × k numbers, are all that travels.
This module supplies only what is distributed: the partitioned data and the
reduction of gradients or models. The epoch loop (schedules, stopping rules, early
stopping, callbacks, the divergence guard, the ``FitResult``) is the one of
:func:`fastsgd.fit`, and the estimators' fit logic is their own: this module gives
them an adapter to dask arrays (``ADAPTER``).

Two ways to train, both one round trip per epoch:

- ``method="average"`` (parallel SGD with model averaging): every block runs
  ``local_epochs`` epochs of mini-batch SGD in the C++ core, on the worker that
  holds it, starting from the current model; the block models (weights, intercept,
  the update rule's state, the running average) are averaged, weighted by block
  rows, into the next model.
- ``method="gradient"`` (exact full-batch gradient descent): every block computes
  its fused loss + gradient sums in C++; they are added up on the cluster in a tree
  and one step is taken. The result equals ``fastsgd.fit(..., batch_size=None)`` on
  the same rows, to float rounding.

Needs the ``dask`` extra: ``pip install 'fastsgd[dask]'``.
"""

# dask's array and distributed APIs are only partly annotated
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import dask.array as da
    import distributed
    from dask.delayed import Delayed, delayed
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fastsgd.dask needs dask[array] and distributed: pip install 'fastsgd[dask]' "
        f"(original error: {exc})"
    ) from exc

from fastsgd import _driver as driver
from fastsgd._data import Dataset, pair, target_shape
from fastsgd._ext import _core
from fastsgd._registry import LOSSES, Loss
from fastsgd._sparse import is_sparse
from fastsgd._validation import FloatArray, as_array, shape_str
from fastsgd.config import FitConfig, make_config

__all__ = ["ADAPTER", "fit"]

METHODS = ("average", "gradient")
_SPLIT_EVERY = 8  # fan-in of the reduction tree
_MAX_GRAM = 4096  # learning_rate="auto" builds a (d+1) × (d+1) matrix per block


# ---------------------------------------------------------------------------
# What one block of rows needs: its Dataset, built on the worker.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """The loss and the model's shape, for building a block's Dataset on a worker."""

    loss: str
    epsilon: float | None
    k: int
    n_classes: int | None  # classification: the classes (None: two, one score)
    class_weight: FloatArray | None

    def dataset(self, Xb: Any, yb: Any, swb: Any) -> Dataset:
        return Dataset.build(
            _block_rows(Xb), np.asarray(yb), LOSSES[self.loss], n_classes=self.n_classes,
            n_outputs=self.k if LOSSES[self.loss].target == "real" else None,
            sample_weight=None if swb is None else np.asarray(swb),
            class_weight=self.class_weight, check_input=False,
        )  # fmt: skip


def _block_rows(Xb: Any) -> Any:
    """A block of X as it came (a scipy.sparse block stays sparse), else as an array."""
    return Xb if is_sparse(Xb) else np.asarray(Xb)


def _aligned(a: FloatArray) -> FloatArray:
    # arrays that arrive over the network may sit at an odd address: the core reads doubles
    return np.require(a, dtype=np.float64, requirements=["C", "A"])


def _block_loss_grad(Xb: Any, yb: Any, swb: Any, W: FloatArray, b: Any, lay: _Layout,
                     grad: bool, threads: int) -> FloatArray:  # fmt: skip
    """[n_b, Σ weight·loss, (Σ dz xᵀ, Σ dz)] of one block, for the model W, b."""
    n = int(np.shape(Xb)[0])
    kd = lay.k * int(np.shape(Xb)[1])
    out = np.zeros(2 + (kd + lay.k if grad else 0))
    if n == 0:
        return out
    data = lay.dataset(Xb, yb, swb)
    spec = LOSSES[lay.loss].spec(lay.epsilon, lay.k)
    bb = None if b is None else _aligned(b)
    _, weighted, G, gb = _core.loss_grad(data.X, data.targets, _aligned(W), bb, spec, grad, None,
                                         threads)  # fmt: skip
    out[0], out[1] = n, weighted
    if grad:
        out[2 : 2 + kd] = G.ravel()
        out[2 + kd :] = gb
    return out


@dataclass(frozen=True)
class _LocalJob:
    """What every block needs to run its local SGD epochs."""

    layout: _Layout
    config: FitConfig
    lr: float
    epoch: int
    local_epochs: int
    threads: int


@dataclass(frozen=True)
class _StateLayout:
    """Where each field of a model's state sits in the flat vector a block returns:
    [rows, steps, loss sum, weighted loss sum, objective sum, then rows × each averaged
    field]. Summed over blocks on the cluster, divided by the rows on the client."""

    k: int
    d: int
    rule_state: int  # arrays of the update rule's state (0, 1 or 2)
    l1: bool

    SCALARS = ("t", "rule_steps", "u", "sq_norm", "l1_norm")

    def arrays(self) -> list[tuple[str, int]]:
        kd, k = self.k * self.d, self.k
        out = [("V", kd), ("b", k), ("AV", kd), ("ab", k)]
        if self.rule_state >= 1:
            out += [("S0", kd), ("Sb0", k)]
        if self.rule_state >= 2:
            out += [("S1", kd), ("Sb1", k)]
        if self.l1:
            out.append(("Q", kd))
        return out

    def size(self) -> int:
        return 5 + len(self.SCALARS) + sum(size for _, size in self.arrays())

    def pack(self, n: int, steps: int, sums: tuple[float, float, float],
             state: dict[str, Any] | None) -> FloatArray:  # fmt: skip
        out = np.zeros(self.size())
        out[:5] = (n, steps, *sums)
        if state is None:
            return out
        pos = 5
        for name in self.SCALARS:
            out[pos] = n * state[name]
            pos += 1
        for name, size in self.arrays():
            value = state[name]
            if value is not None:
                out[pos : pos + size] = n * np.asarray(value).ravel()
            pos += size
        return out

    def unpack(self, flat: FloatArray, start: dict[str, Any]) -> tuple[Any, ...]:
        n = flat[0]
        state = dict(start)
        pos = 5
        for name in self.SCALARS:
            state[name] = flat[pos] / n
            pos += 1
        for name, size in self.arrays():
            value = flat[pos : pos + size] / n
            state[name] = value.reshape(self.k, self.d) if size == self.k * self.d else value
            pos += size
        state.update(scale=1.0, avg_a=0.0, avg_b=1.0)
        return int(flat[1]), float(flat[2]), float(flat[3]), float(flat[4]), int(n), state


def _block_train(Xb: Any, yb: Any, swb: Any, state: dict[str, Any], job: _LocalJob,
                 seed: int, lay: _StateLayout) -> FloatArray:  # fmt: skip
    """Local SGD epochs on one block from the given model state: its rows, steps, loss
    sums and folded model state, as a flat vector (see _StateLayout)."""
    n = int(np.shape(Xb)[0])
    if n == 0:
        return lay.pack(0, 0, (0.0, 0.0, 0.0), None)
    data = job.layout.dataset(Xb, yb, swb)
    model = _core.Model.from_state(state)
    spec = LOSSES[job.layout.loss].spec(job.layout.epsilon, job.layout.k)
    cfg = job.config
    shuffle = driver.shuffle_code(cfg, data.d, data.X.itemsize)
    options = driver.epoch_options(cfg, spec, seed=seed, shuffle=shuffle)
    options.schedule = driver.schedule_spec(cfg, spec, job.lr)
    trainer = _core.Trainer(data.X, data.targets)
    steps, sums = 0, np.zeros(3)
    for j in range(job.local_epochs):
        options.epoch = job.epoch * job.local_epochs + j
        s = trainer.epoch(model, options, False, job.threads)
        steps += s.steps
        sums += np.array([s.loss_sum, s.weighted_loss_sum, s.objective_sum]) / job.local_epochs
    model.fold()
    return lay.pack(n, steps, (float(sums[0]), float(sums[1]), float(sums[2])), model.state())


def _block_gram(Xb: Any, fit_intercept: bool) -> FloatArray:
    """[n_b, X̃ᵀX̃ of the block] with X̃ = [X, 1] when fitting an intercept (float64 sums)."""
    X = Xb.astype(np.float64) if is_sparse(Xb) else np.asarray(Xb, dtype=np.float64)
    n, d = X.shape
    m = d + 1 if fit_intercept else d
    G = np.zeros((m, m))
    G[:d, :d] = (X.T @ X).toarray() if is_sparse(X) else X.T @ X
    if fit_intercept:
        s = np.asarray(X.sum(axis=0)).ravel()
        G[:d, d] = G[d, :d] = s
        G[d, d] = n
    return np.concatenate([[float(n)], G.ravel()])


def _block_finite(*arrays: Any) -> FloatArray:
    def finite(a: Any) -> bool:  # a sparse block: its stored values
        return bool(np.isfinite(a.data if is_sparse(a) else np.asarray(a)).all())

    return np.array([float(finite(a)) for a in arrays if a is not None])


def _add(*parts: FloatArray) -> FloatArray:
    total: FloatArray = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _tree_sum(parts: list[Delayed], split_every: int = _SPLIT_EVERY) -> Delayed:
    """Adds the per-block vectors in a tree on the cluster: only the root comes back.

    Tasks get fresh keys on every call (pure=False): a pass repeated with the same
    parameters must not resubmit the keys of one whose results were just released."""
    add = delayed(_add, pure=False)
    while len(parts) > 1:
        parts = [add(*parts[i : i + split_every]) for i in range(0, len(parts), split_every)]
    return parts[0]


# ---------------------------------------------------------------------------
# The cluster and the data: dask arrays, checked without computing X.
# ---------------------------------------------------------------------------


class _Cluster:
    """The client and the blocks of each array.

    Graphs are sent unoptimized: every pass then gives each block of X the same key
    and the same task, so no key is ever resubmitted with a different definition
    (which dask's scheduler warns can deadlock)."""

    def __init__(self, client: distributed.Client) -> None:
        self.client = client
        self._blocks: dict[str, list[Delayed]] = {}

    def compute(self, graph: Any) -> Any:
        return self.client.compute(graph, optimize_graph=False).result()

    def compute_many(self, *graphs: Any) -> Any:
        return self.client.gather(self.client.compute(list(graphs), optimize_graph=False))

    def blocks(self, a: Any) -> list[Any]:
        """The row blocks of a dask array (delayed), or Nones for a missing array."""
        if a is None:
            return []
        if a.name not in self._blocks:
            self._blocks[a.name] = list(a.to_delayed(optimize_graph=False).ravel())
        return self._blocks[a.name]

    def per_block(self, X: Any, y: Any, sw: Any) -> list[tuple[Any, Any, Any]]:
        xs, ys, ws = self.blocks(X), self.blocks(y), self.blocks(sw)
        return [
            (xb, yb, ws[i] if ws else None) for i, (xb, yb) in enumerate(zip(xs, ys, strict=True))
        ]

    def run(self, X: Any, y: Any, sw: Any, task: Callable[..., FloatArray], *args: Any) -> Any:
        """Sum of ``task(X_block, y_block, sw_block, *args)`` over blocks, reduced on the
        cluster. ``args`` go into the graph once each (an array becomes one key)."""
        shared = [delayed(a, pure=False) if isinstance(a, np.ndarray) else a for a in args]
        call = delayed(task, pure=False)
        parts = [call(xb, yb, wb, *shared) for xb, yb, wb in self.per_block(X, y, sw)]
        return self.compute(_tree_sum(parts))


def _dask_rows(X: Any, name: str) -> da.Array:
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} must be a dask array chunked along rows, got {type(X).__name__} "
            "(use fastsgd.fit for in-memory arrays, or dask.array.from_array)"
        )
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-d (n_samples, n_features), got shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes along rows: call {name}.compute_chunk_sizes() first"
        )
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {X.dtype}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be a real numeric array, got dtype {X.dtype}")
    out: da.Array = X
    if X.dtype not in (np.float32, np.float64):
        out = out.astype(np.float64)  # converted block by block on the workers
    if X.numblocks[1] > 1:
        out = out.rechunk({1: -1})
    return out


def _dask_like_rows(a: Any, name: str, X: da.Array, client: distributed.Client) -> da.Array | None:
    """a (dask or in-memory, one row per row of X) in X's row blocks."""
    if a is None:
        return None
    rows = X.chunks[0]
    if isinstance(a, da.Array):
        aa = a
    else:  # in client memory: sent to the workers once, in X's row blocks
        arr = as_array(a, name)
        if arr.ndim == 0:
            raise ValueError(f"{name} must be 1-d or 2-d, got a scalar")
        if arr.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} has {arr.shape[0]} rows but X has {X.shape[0]}: they must match"
            )
        aa = client.persist(da.from_array(arr, chunks=(rows, *arr.shape[1:])))
    if aa.ndim == 0 or aa.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have one row per row of X ({X.shape[0]}), got shape {shape_str(aa.shape)}"
        )
    if any(math.isnan(c) for c in aa.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes: call {name}.compute_chunk_sizes() first")
    if aa.chunks[0] != rows:
        aa = aa.rechunk({0: rows})
    if aa.ndim == 2 and aa.numblocks[1] > 1:
        aa = aa.rechunk({1: -1})
    return aa


@dataclass
class _DaskData:
    """Training data as dask arrays in the same row blocks, and the model's shape."""

    X: da.Array
    y: da.Array
    sw: da.Array | None
    layout: _Layout
    vector: bool

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])


def _dask_data(X: Any, y: Any, loss: Loss, cluster: _Cluster, *, n_classes: int | None,
               sample_weight: Any, class_weight: Any, epsilon: float | None,
               name_X: str = "X", name_y: str = "y") -> _DaskData:  # fmt: skip
    """X, y and weights checked (shapes and dtypes; a classifier's label range on the
    cluster) and aligned to X's row blocks. Nothing of X is computed here."""
    Xd = _dask_rows(X, name_X)
    n = int(Xd.shape[0])
    ya = _dask_like_rows(y, name_y, Xd, cluster.client)
    assert ya is not None
    sw = _dask_like_rows(sample_weight, "sample_weight", Xd, cluster.client)

    def label_range() -> tuple[int, int]:  # on the cluster: only two numbers come back
        lo, hi = cluster.compute_many(ya.min(), ya.max())
        return int(lo), int(hi)

    shape = target_shape(
        loss, tuple(int(s) for s in ya.shape), ya.dtype, n, label_range, n_classes=n_classes,
        n_outputs=None, X_shape=tuple(Xd.shape), name_X=name_X, name_y=name_y,
    )  # fmt: skip
    cw = None if class_weight is None else np.asarray(class_weight, dtype=np.float64)
    classes = None if shape.classes is None or shape.vector else shape.classes
    layout = _Layout(loss.name, epsilon, shape.k, classes, cw)
    return _DaskData(Xd, ya, sw, layout, shape.vector)


# ---------------------------------------------------------------------------
# The backend: what the driver calls once per epoch.
# ---------------------------------------------------------------------------


class DaskBackend:
    """Runs epochs over the blocks of dask arrays (see the module docstring)."""

    def __init__(self, data: _DaskData, validation: Any, cluster: _Cluster, cfg: FitConfig, *,
                 method: str, local_epochs: int) -> None:  # fmt: skip
        self.data, self.validation, self.cluster, self.cfg = data, validation, cluster, cfg
        self.method, self.local_epochs = method, local_epochs
        self.n, self.d = data.n, data.d
        self.threads = cfg.n_threads or 0
        n_blocks = len(cluster.blocks(data.X))
        seeds = np.random.SeedSequence(driver.resolve_seed(cfg.seed)).spawn(n_blocks)
        self.seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in seeds]
        self.n_blocks = n_blocks
        # method="gradient": the gradient found with the last loss, and the model it was at
        self._grad: tuple[FloatArray, FloatArray, FloatArray, float] | None = None
        self._checked = False
        self._checked_data = False

    # -- loss -------------------------------------------------------------------------
    def loss(self, model: _core.Model, validation: bool = False) -> float:
        W, b = driver.reported(model)
        if validation:
            v = self.validation
            if isinstance(v, Dataset):  # in-memory validation data
                return driver.data_loss(v, model, self.threads)
            flat = self.cluster.run(v.X, v.y, v.sw, _block_loss_grad, W, b, v.layout, False,
                                    self.threads)  # fmt: skip
            return float(flat[1] / flat[0])
        grad = self.method == "gradient"
        data = self.data
        flat = self.cluster.run(data.X, data.y, data.sw, _block_loss_grad, W, b, data.layout,
                                grad, self.threads)  # fmt: skip
        value = float(flat[1] / flat[0])
        if not math.isfinite(value) and not self._checked:
            self.check_data()
        self._checked = True
        if grad:
            kd = data.layout.k * data.d
            self._grad = (flat[2 : 2 + kd].reshape(data.layout.k, data.d), flat[2 + kd :], W,
                          value)  # fmt: skip
        return value

    def check_data(self) -> None:
        """ValueError when X, y or sample_weight hold NaN or infinity (a pass of the cluster;
        once, when a loss comes out non-finite)."""
        if self._checked_data:
            return
        self._checked_data = True
        data = self.data
        call = delayed(_block_finite, pure=False)
        parts = [call(xb, yb, wb) for xb, yb, wb in self.cluster.per_block(data.X, data.y, data.sw)]
        flags = np.array(self.cluster.compute_many(*parts))
        if not flags[:, 0].all():
            raise ValueError("X contains NaN or infinity")
        if not flags[:, 1].all():
            raise ValueError("y contains NaN or infinity")
        if flags.shape[1] > 2 and not flags[:, 2].all():
            raise ValueError("sample_weight contains NaN or infinity")

    def curvature(
        self, fit_intercept: bool, precise: bool = False, precond: FloatArray | None = None
    ) -> tuple[float, float]:
        """(λ_max, trace) of A = X̃ᵀX̃/n (of P^½ A P^½ with precond P) from the Gram matrix."""
        del precise  # the Gram matrix's eigenvalues are exact
        A = self._gram(fit_intercept)
        if precond is not None:
            r = np.sqrt(np.asarray(precond, dtype=np.float64))
            A = A * r[:, None] * r[None, :]
        return float(np.linalg.eigvalsh(A)[-1]), float(np.trace(A))

    def mean_squares(self, fit_intercept: bool) -> FloatArray:
        """diag(A): the columns' means of squares, then the intercept's 1."""
        out: FloatArray = np.diag(self._gram(fit_intercept)).copy()
        return out

    def _gram(self, fit_intercept: bool) -> FloatArray:
        """A = X̃ᵀX̃/n, summed over blocks in one pass (kept for the fit)."""
        cached = getattr(self, "_gram_cache", None)
        if cached is not None and cached[0] == fit_intercept:
            return np.asarray(cached[1])
        m = self.d + 1 if fit_intercept else self.d
        if m > _MAX_GRAM:
            raise ValueError(
                f"learning_rate='auto' on dask arrays needs a ({m}, {m}) Gram matrix; with "
                f"{self.d} features pass a number, for example "
                "fastsgd.auto_learning_rate(X[:100_000].compute(), ...) on a sample"
            )
        flat = self.cluster.run(self.data.X, self.data.y, None, _gram_task, fit_intercept)
        A = flat[1:].reshape(m, m) / flat[0]
        self._gram_cache = (fit_intercept, A)
        return np.asarray(A)

    # -- one epoch --------------------------------------------------------------------
    def epoch(self, model: _core.Model, options: _core.EpochOptions) -> driver.EpochResult:
        if self.method == "gradient":
            return self._gradient_step(model, options)
        return self._average(model, options)

    def _gradient_step(self, model: _core.Model, options: _core.EpochOptions) -> driver.EpochResult:
        W, _ = driver.reported(model)
        if self._grad is None or not np.array_equal(self._grad[2], W):
            self.loss(model)
        assert self._grad is not None
        G, gb, _, value = self._grad
        lr = options.schedule.rate(model.t)
        model.step(_aligned(G), _aligned(gb), float(self.n), lr, options)
        self._grad = None
        return driver.EpochResult(1, self.n, value * self.n, value * self.n, value * self.n)

    def _average(self, model: _core.Model, options: _core.EpochOptions) -> driver.EpochResult:
        job = _LocalJob(self.data.layout, self.cfg, options.schedule.eta0, int(options.epoch),
                        self.local_epochs, self.threads)  # fmt: skip
        update = options.update
        rule_state = 0 if update.lazy else (2 if update.name == "adam" else 1)
        lay = _StateLayout(model.k, model.d, rule_state, options.penalty.l1 > 0)
        model.fold()
        start = model.state()
        state = delayed(start, pure=False)
        call = delayed(_block_train, pure=False)
        blocks = self.cluster.per_block(self.data.X, self.data.y, self.data.sw)
        parts = [call(xb, yb, wb, state, job, s, lay)
                 for (xb, yb, wb), s in zip(blocks, self.seeds, strict=True)]  # fmt: skip
        flat = self.cluster.compute(_tree_sum(parts))  # the row-weighted sums come back
        steps, loss_sum, weighted, objective, n, averaged = lay.unpack(flat, start)
        model.assign(_core.Model.from_state(averaged))
        return driver.EpochResult(steps, n, loss_sum, weighted, objective)


def _gram_task(Xb: Any, _yb: Any, _sw: Any, fit_intercept: bool) -> FloatArray:
    return _block_gram(Xb, fit_intercept)


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _client_scope(client: Any) -> Iterator[distributed.Client]:
    """The given client, else the current one, else a LocalCluster for this call only."""
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        yield client
        return
    try:
        yield distributed.get_client()
        return
    except ValueError:  # no client: start a local cluster, close it when done
        pass
    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            dashboard_address=None,
            # the scheduler's HTTP server (health, metrics) on any free port, not 8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as own,
    ):
        yield own


def _check_method(method: str, local_epochs: Any) -> int:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    from fastsgd._params import Interval, check

    return int(check("local_epochs", local_epochs, [Interval(numbers.Integral, 1, None)]))


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def fit(
    X: Any,
    y: Any,
    w0: Any = None,
    *,
    method: str = "average",
    client: Any = None,
    local_epochs: int = 1,
    b0: Any = None,
    sample_weight: Any = None,
    class_weight: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    config: FitConfig | None = None,
    **options: Any,
) -> driver.FitResult:
    """:func:`fastsgd.fit` on dask arrays, the blocks of rows trained on the cluster.

    Parameters
    ----------
    X : dask array (n, d) chunked along rows (any column chunking is merged).
    y : dask array or in-memory array with one row per row of X (rechunked to X's rows).
    w0, b0, sample_weight, class_weight, validation_data, callback, config, **options :
        as :func:`fastsgd.fit` (``validation_data`` may hold dask or in-memory arrays).
    method : "average" (model averaging of local mini-batch SGD, the default) or
        "gradient" (full-batch gradient descent, exact; ``batch_size`` and ``shuffle``
        do not apply).
    client : a ``distributed.Client``; default: the current one, else a local cluster
        for this call.
    local_epochs : epochs each block runs between averages ("average" only).

    Returns
    -------
    FitResult, with ``extra`` holding the method, the number of blocks and local_epochs.

    Examples
    --------
    >>> import dask.array as da, distributed, fastsgd.dask
    >>> X = da.random.default_rng(0).standard_normal((4000, 3), chunks=1000)
    >>> y = X @ da.from_array([1.0, -2.0, 0.5]) + 3.0
    >>> with distributed.Client(processes=False, dashboard_address="127.0.0.1:0") as client:
    ...     r = fastsgd.dask.fit(X, y, method="gradient", learning_rate=0.5, epochs=60,
    ...                          fit_intercept=True, client=client)
    >>> r.w.round(2), round(r.b, 2)
    (array([ 1. , -2. ,  0.5]), 3.0)
    """
    cfg = make_config(config, options)
    local_epochs = _check_method(method, local_epochs)
    if method == "gradient":
        if cfg.batch_size is not None:
            raise ValueError(
                "batch_size must be None with method='gradient' (full-batch gradient "
                "descent); use method='average' for mini-batches"
            )
        if local_epochs != 1:
            raise ValueError("local_epochs only applies to method='average'")
    _dask_rows(X, "X")  # a TypeError before any cluster is started
    loss = LOSSES[cfg.loss]
    with _client_scope(client) as cl:
        cluster = _Cluster(cl)
        data = _dask_data(X, y, loss, cluster, n_classes=cfg.n_classes,
                          sample_weight=sample_weight, class_weight=class_weight,
                          epsilon=cfg.epsilon)  # fmt: skip
        validation = _validation(validation_data, data, loss, cluster, cfg)
        model = driver.new_model(data.d, data.layout.k,
                                   (data.d,) if data.vector else (data.d, data.layout.k),
                                   cfg.fit_intercept, w0, b0)  # fmt: skip
        backend = DaskBackend(data, validation, cluster, cfg, method=method,
                              local_epochs=local_epochs)  # fmt: skip
        result = driver.run(cfg, backend, model, loss, k=data.layout.k, vector=data.vector,
                              has_validation=validation is not None, callback=callback)  # fmt: skip
    result.extra.update(method=method, n_blocks=backend.n_blocks, local_epochs=local_epochs)
    return result


def _validation(validation_data: Any, data: _DaskData, loss: Loss, cluster: _Cluster,
                cfg: FitConfig) -> Any:  # fmt: skip
    if validation_data is None:
        return None
    X_val, y_val = pair(validation_data, "validation_data")
    n_classes = data.layout.n_classes
    if isinstance(X_val, da.Array):
        val = _dask_data(X_val, y_val, loss, cluster, n_classes=n_classes, sample_weight=None,
                         class_weight=data.layout.class_weight, epsilon=cfg.epsilon,
                         name_X="X_val", name_y="y_val")  # fmt: skip
        if val.d != data.d or val.layout.k != data.layout.k:
            raise ValueError(f"validation_data has {val.d} features and {val.layout.k} outputs, "
                             f"the training data {data.d} and {data.layout.k}")  # fmt: skip
        return val
    if isinstance(y_val, da.Array):
        raise TypeError("y_val is a dask array but X_val is not")
    out = Dataset.build(X_val, y_val, loss, n_classes=n_classes,
                        n_outputs=data.layout.k if loss.target == "real" else None,
                        dtype=data.X.dtype, name_X="X_val", name_y="y_val")  # fmt: skip
    if out.d != data.d:
        raise ValueError(f"X_val has {out.d} features but the training data has {data.d}")
    return out


# ---------------------------------------------------------------------------
# The estimators' adapter to dask arrays
# ---------------------------------------------------------------------------


def _take_rows(block: Any, seed: int, fraction: float, part: int, block_id: Any = None) -> Any:
    perm = np.random.default_rng([seed, block_id[0]]).permutation(block.shape[0])
    n_val = round(fraction * block.shape[0])
    return block[np.sort(perm[n_val:] if part == 0 else perm[:n_val])]


def _split_rows(a: da.Array, fraction: float, seed: int) -> tuple[da.Array, da.Array]:
    """A seeded split of every block's rows into (train, validation): chunk sizes known."""
    sizes = [(c - round(fraction * c), round(fraction * c)) for c in a.chunks[0]]
    parts = []
    for part in (0, 1):
        rows = tuple(s[part] for s in sizes)
        chunks = (rows, *a.chunks[1:])
        parts.append(
            da.map_blocks(_take_rows, a, seed, fraction, part, chunks=chunks, dtype=a.dtype)
        )
    return parts[0], parts[1]


def _encode_block(yb: Any, classes: Any) -> Any:
    return np.searchsorted(classes, yb).astype(np.int64)


def _call_method(block: Any, estimator: Any, method: str) -> Any:
    return getattr(estimator, method)(block)


PREDICT_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")


class DaskAdapter:
    """The estimators' access to data held in dask arrays (see fastsgd.estimators.DataAdapter).

    ``session(fit_params)`` binds a client for one fit (the given ``client``, the current
    one, or a local cluster) and the fit's ``method`` and ``local_epochs``. The
    estimators use it when given dask arrays; their fit logic is their own.

    - A classifier's labels may be any values: their distinct values are found on the
      cluster (only they come back) and the rows are encoded block by block.
    - ``early_stopping`` holds out ``validation_fraction`` of every block's rows (a
      seeded choice per block; not stratified).
    - ``method="gradient"`` is full-batch gradient descent: the estimator's
      ``batch_size`` and ``shuffle`` do not apply.
    - Predictions are dask arrays with X's row chunks, computed block by block.

    Examples
    --------
    >>> import dask.array as da, distributed, fastsgd
    >>> X = da.random.default_rng(0).standard_normal((4000, 3), chunks=1000)
    >>> y = X @ da.from_array([1.0, -2.0, 0.5]) + 3.0
    >>> with distributed.Client(processes=False, dashboard_address="127.0.0.1:0") as client:
    ...     reg = fastsgd.SGDRegressor(random_state=0).fit(X, y, client=client)
    ...     pred = reg.predict(X)             # a dask array, computed block by block
    ...     err = float(abs(pred - y).max().compute())
    >>> reg.coef_.round(2), reg.intercept_.round(2), err < 0.01
    (array([ 1. , -2. ,  0.5]), array([3.]), True)
    """

    fit_params: tuple[str, ...] = ("method", "client", "local_epochs")

    def __init__(self, cluster: _Cluster | None = None, method: str = "average",
                 local_epochs: int = 1) -> None:  # fmt: skip
        self.cluster, self.method, self.local_epochs = cluster, method, local_epochs

    @contextlib.contextmanager
    def session(self, fit_params: dict[str, Any]) -> Iterator[DaskAdapter]:
        method = fit_params.get("method", "average")
        local_epochs = _check_method(method, fit_params.get("local_epochs", 1))
        with _client_scope(fit_params.get("client")) as cl:
            yield DaskAdapter(_Cluster(cl), method, local_epochs)

    def _cl(self) -> _Cluster:
        assert self.cluster is not None, "use the adapter inside session()"
        return self.cluster

    def validate(self, est: Any, X: Any, y: Any, *, reset: bool) -> tuple[Any, Any]:
        Xd = _dask_rows(X, "X")
        d = int(Xd.shape[1])
        if reset:
            est.n_features_in_ = d
            if hasattr(est, "feature_names_in_"):
                del est.feature_names_in_  # dask arrays carry no column names
        elif d != est.n_features_in_:
            raise ValueError(
                f"X has {d} features, but {type(est).__name__} is expecting "
                f"{est.n_features_in_} features as input"
            )
        ya = y if isinstance(y, da.Array) else as_array(y, "y")
        if ya.ndim not in (1, 2):
            raise ValueError(f"y must have shape (n,) or (n, k), got {shape_str(ya.shape)}")
        return Xd, ya

    def labels(self, y: Any) -> np.ndarray[Any, Any]:
        from sklearn.utils.multiclass import check_classification_targets

        ya = y if isinstance(y, da.Array) else da.from_array(np.asarray(y))
        if ya.ndim != 1:
            raise ValueError(f"y must be 1-d (one label per row), got shape {shape_str(ya.shape)}")
        seen = np.asarray(self._cl().compute(da.unique(ya)))  # only the distinct labels come back
        check_classification_targets(seen)
        return seen

    def bincount(self, y: Any, k: int) -> np.ndarray[Any, Any]:
        return np.asarray(self._cl().compute(da.bincount(y, minlength=k)))

    def encode(self, y: Any, classes: np.ndarray[Any, Any]) -> Any:
        unknown = np.setdiff1d(self.labels(y), classes)
        if unknown.size:
            raise ValueError(f"y contains labels not in classes_ {classes!r}: {unknown!r}")
        ya = y if isinstance(y, da.Array) else da.from_array(np.asarray(y))
        return da.map_blocks(_encode_block, ya, classes, dtype=np.int64)

    def split(self, X: Any, y: Any, fraction: float, seed: int,
              stratify: bool) -> tuple[Any, Any, Any, Any]:  # fmt: skip
        """``fraction`` of every block's rows held out (a seeded choice per block; not
        stratified)."""
        ya = _dask_like_rows(y, "y", X, self._cl().client)
        assert ya is not None
        X_tr, X_val = _split_rows(X, fraction, seed)
        y_tr, y_val = _split_rows(ya, fraction, seed)
        return X_tr, y_tr, X_val, y_val

    def backend(self, est: Any, X: Any, y: Any, loss: Loss, cfg: FitConfig, *,
                n_classes: int | None, sample_weight: Any, class_weight: Any,
                validation: tuple[Any, Any] | None,
                fit_params: dict[str, Any]) -> tuple[driver.Backend, int, bool]:  # fmt: skip
        cluster = self._cl()
        if self.method == "gradient":
            cfg = cfg.replace(batch_size=None)
        data = _dask_data(X, y, loss, cluster, n_classes=n_classes, sample_weight=sample_weight,
                          class_weight=class_weight, epsilon=cfg.epsilon)  # fmt: skip
        val = _validation(validation, data, loss, cluster, cfg)
        backend = DaskBackend(data, val, cluster, cfg, method=self.method,
                              local_epochs=self.local_epochs)  # fmt: skip
        return backend, data.layout.k, data.vector

    def predict(self, est: Any, X: Any, method: str) -> Any:
        """``est.<method>(X)`` block by block on the workers: a dask array, not computed."""
        if method not in PREDICT_METHODS:
            raise ValueError(f"method must be one of {list(PREDICT_METHODS)}, got {method!r}")
        if not isinstance(X, da.Array):
            raise TypeError(f"X must be a dask array, got {type(X).__name__}")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}")
        Xd = X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
        inner = "_" + method
        # one made-up row, predicted here, tells the output's shape and dtype
        probe = np.asarray(getattr(est, inner)(np.zeros((1, Xd.shape[1]), Xd.dtype)))
        meta = np.empty((0, *probe.shape[1:]), probe.dtype)
        shape: dict[str, Any] = (
            {"drop_axis": 1, "chunks": (Xd.chunks[0],)}
            if probe.ndim == 1
            else {"chunks": (Xd.chunks[0], probe.shape[1:])}
        )
        out: da.Array = da.map_blocks(
            _call_method, Xd, est, inner, dtype=probe.dtype, meta=meta, **shape
        )
        return out


ADAPTER = DaskAdapter()
