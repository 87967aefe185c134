"""Data-parallel SGD on dask arrays over a ``dask.distributed`` cluster.

The rows of ``X`` are split into blocks that live on the workers (dask arrays
chunked along rows); the parameters, d × k numbers, are all that travels.
Two ways to train, both one round trip per epoch:

- ``method="average"`` (parallel SGD with model averaging): every block runs
  ``local_epochs`` epochs of mini-batch SGD in the C++ core, on the worker
  that holds it, starting from the current parameters; the block results are
  averaged, weighted by block rows, into the next parameters.
- ``method="gradient"`` (exact full-batch gradient descent): every block
  computes its fused loss + gradient in C++; the row-weighted sums are added
  up on the cluster in a tree and the step is taken with ``torch.optim.SGD``'s
  rule. The result equals ``fastsgd.fit(..., batch_size=None)`` on the same
  rows, to float rounding.

The epoch loop itself (schedules, stopping rules, early stopping, callbacks,
the divergence guard, the ``FitResult``) is the one of :func:`fastsgd.fit`.

Needs the ``dask`` extra: ``pip install 'fastsgd[dask]'``.
"""

# dask's array and distributed APIs are only partly annotated
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import contextlib
import functools
import math
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

from fastsgd._ext import _core
from fastsgd._validation import FloatArray, as_array, as_rows, check_int, shape_str
from fastsgd.training import LOSSES, FitResult, Options, Problem, State, _fit

__all__ = ["fit", "fit_estimator", "partial_fit_estimator", "predict_estimator"]

METHODS = ("average", "gradient")
_SPLIT_EVERY = 8  # fan-in of the reduction tree
_MAX_GRAM = 4096  # learning_rate="auto" builds a (d+1) × (d+1) matrix per block


# ---------------------------------------------------------------------------
# Work done on the workers, one block at a time. Each returns a flat float64
# vector whose row-weighted entries are summed over blocks.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Shapes of the model and where each part sits in a flat parameter vector."""

    loss_id: int
    d: int
    k: int
    fit_intercept: bool
    momentum: bool = False

    def sizes(self) -> tuple[int, int, int, int]:
        kd, k = self.k * self.d, self.k
        b = k if self.fit_intercept else 0
        return kd, b, kd if self.momentum else 0, b if self.momentum else 0

    def pack(self, state: State) -> FloatArray:
        parts = [state.Wt.ravel()]
        if self.fit_intercept:
            parts.append(_req(state.b))
        if self.momentum:
            parts.append(_req(state.vW).ravel())
            if self.fit_intercept:
                parts.append(_req(state.vb))
        return np.concatenate(parts)

    def unpack(self, flat: FloatArray) -> list[FloatArray | None]:
        out: list[FloatArray | None] = []
        pos = 0
        for size in self.sizes():
            out.append(flat[pos : pos + size] if size else None)
            pos += size
        return out


def _req(a: FloatArray | None) -> FloatArray:
    assert a is not None
    return a


def _block_arrays(Xb: Any, yb: Any, layout: _Layout) -> tuple[FloatArray, Any]:
    X = as_rows(Xb, "X")
    if layout.loss_id == LOSSES["mse"]:
        Y: Any = as_rows(np.asarray(yb).reshape(X.shape[0], layout.k), "y", X.dtype)
    else:
        Y = np.require(yb, dtype=np.int64, requirements=["C", "A"])
    return X, Y


def _block_loss_grad(
    Xb: Any, yb: Any, params: FloatArray, layout: _Layout, grad: bool, threads: int
) -> FloatArray:
    """[n_b, n_b·loss_b, n_b·G_b, n_b·gb_b]: the kernel's means, weighted by block rows."""
    X, Y = _block_arrays(Xb, yb, layout)
    n = X.shape[0]
    kd, kb = layout.k * layout.d, (layout.k if layout.fit_intercept else 0)
    out = np.zeros(2 + (kd + kb if grad else 0))
    if n == 0:
        return out
    # parameters that arrive over the network may sit at an odd address: the core reads doubles
    params = np.require(params, dtype=np.float64, requirements=["C", "A"])
    Wt = params[:kd].reshape(layout.k, layout.d)
    b = params[kd : kd + kb] if layout.fit_intercept else None
    loss, G, gb = _core.loss_grad(X, Y, Wt, b, layout.loss_id, grad, threads)
    out[0], out[1] = n, n * loss
    if grad:
        out[2 : 2 + kd] = n * _req(G).ravel()
        if layout.fit_intercept:
            out[2 + kd :] = n * _req(gb)
    return out


@dataclass(frozen=True)
class _LocalSgd:
    """What every block needs to run its local SGD epochs."""

    layout: _Layout
    batch_size: int
    shuffle: int  # as Options.shuffle: 0, 1 or a block size
    lr: float
    momentum: float
    dampening: float
    nesterov: bool
    weight_decay: float
    local_epochs: int
    epoch: int
    threads: int


def _block_train(Xb: Any, yb: Any, params: FloatArray, job: _LocalSgd, seed: int) -> FloatArray:
    """Local SGD epochs on one block from the given parameters.

    Returns [n_b, steps_b, n_b·mean batch loss_b, n_b·params_b]."""
    lay = job.layout
    X, Y = _block_arrays(Xb, yb, lay)
    n = X.shape[0]
    out = np.zeros(3 + params.size)
    if n == 0:
        return out
    local = params.copy()  # views into it are updated in place by the core
    Wt, b, vW, vb = lay.unpack(local)
    Wt2 = _req(Wt).reshape(lay.k, lay.d)
    vW2 = None if vW is None else vW.reshape(lay.k, lay.d)
    trainer = _core.Trainer()
    steps, batch_loss = 0, 0.0
    for j in range(job.local_epochs):
        s, bl = trainer.epoch(
            X, Y, Wt2, b, vW2, vb, lay.loss_id, job.batch_size, job.shuffle, seed,
            job.epoch * job.local_epochs + j, job.lr, job.momentum, job.dampening,
            job.nesterov, job.weight_decay, lay.fit_intercept, False, job.threads,
        )  # fmt: skip
        steps += int(s)
        batch_loss += float(bl) / job.local_epochs
    out[0], out[1], out[2] = n, steps, n * batch_loss
    out[3:] = n * local
    return out


def _block_gram(Xb: Any, fit_intercept: bool) -> FloatArray:
    """[n_b, X̃ᵀX̃ of the block] with X̃ = [X, 1] when fitting an intercept (float64 sums)."""
    X = np.asarray(Xb, dtype=np.float64)
    n, d = X.shape
    m = d + 1 if fit_intercept else d
    G = np.zeros((m, m))
    G[:d, :d] = X.T @ X
    if fit_intercept:
        s = X.sum(axis=0)
        G[:d, d] = G[d, :d] = s
        G[d, d] = n
    return np.concatenate([[float(n)], G.ravel()])


def _block_finite(Xb: Any) -> FloatArray:
    return np.array([float(np.isfinite(np.asarray(Xb)).all())])


def _add(*parts: FloatArray) -> FloatArray:
    total: FloatArray = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _tree_sum(parts: list[Delayed], split_every: int = _SPLIT_EVERY) -> Delayed:
    """Adds the per-block vectors in a tree on the cluster: only the root comes back."""
    add = delayed(_add, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i : i + split_every]) for i in range(0, len(parts), split_every)]
    return parts[0]


# ---------------------------------------------------------------------------
# The problem: dask arrays, checked without computing X.
# ---------------------------------------------------------------------------


class _Cluster:
    """The client and the blocks of each array, shared by the problem and the backend.

    Graphs are sent unoptimized: every pass then gives each block of X the same key
    and the same task, so no key is ever resubmitted with a different definition
    (which dask's scheduler warns can deadlock)."""

    def __init__(self, client: distributed.Client) -> None:
        self.client = client
        self.blocks: dict[tuple[str, str], tuple[list[Delayed], list[Delayed]]] = {}
        self.names: dict[str, tuple[str, str]] = {}

    def compute(self, graph: Delayed) -> Any:
        return self.client.compute(graph, optimize_graph=False).result()

    def compute_many(self, *graphs: Any) -> Any:
        return self.client.gather(self.client.compute(list(graphs), optimize_graph=False))

    def blocks_of(self, X: Any, Y: Any) -> tuple[list[Delayed], list[Delayed]]:
        key = (X.name, Y.name)
        if key not in self.blocks:
            self.blocks[key] = (
                list(X.to_delayed(optimize_graph=False).ravel()),
                list(Y.to_delayed(optimize_graph=False).ravel()),
            )
        return self.blocks[key]

    def run(self, X: Any, Y: Any, task: Callable[..., FloatArray], *args: Any) -> Any:
        """Sum of ``task(X_block, Y_block, *args)`` over blocks, reduced on the cluster.

        ``args`` go into the graph once each (a small array becomes one key that
        every block task reads)."""
        xs, ys = self.blocks_of(X, Y)
        shared = [delayed(a, pure=True) if isinstance(a, np.ndarray) else a for a in args]
        call = delayed(task, pure=True)
        parts = [call(xb, yb, *shared) for xb, yb in zip(xs, ys, strict=True)]
        return self.compute(_tree_sum(parts))


class DaskProblem(Problem):
    """Training data as dask arrays, laid out for block-wise work.

    X is rechunked to a single column block (rows stay as they are chunked);
    y is aligned to X's row blocks. Nothing of X is computed here: only a
    classifier's labels are read once (their min and max, on the cluster).
    NaN or infinity in X or y shows up as a non-finite loss, which is then
    traced back to its array with one more pass.
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        loss: str,
        *,
        n_outputs: int | None = None,
        name_X: str = "X",
        name_y: str = "y",
        check_input: bool = True,
        cluster: _Cluster,
    ) -> None:
        self.loss = loss
        self.loss_id = LOSSES[loss]
        self.cluster = cluster
        self.names = (name_X, name_y)
        Xd = _dask_rows(X, name_X)
        n, d = (int(s) for s in Xd.shape)
        self.n, self.d = n, d
        ya = _dask_targets(y, name_y, Xd, cluster.client)
        if loss == "mse":
            if ya.ndim not in (1, 2):
                raise ValueError(
                    f"{name_y} must have shape ({n},) or ({n}, k) to match {name_X} of shape "
                    f"{shape_str(Xd.shape)}, got {shape_str(ya.shape)}"
                )
            if ya.dtype.kind not in "fiub":
                raise TypeError(f"{name_y} must be a real numeric array, got dtype {ya.dtype}")
            self.vector = ya.ndim == 1
            self.k = 1 if self.vector else int(ya.shape[1])
        else:
            if ya.ndim != 1:
                raise ValueError(
                    f"{name_y} must have shape ({n},) (one class index per row of {name_X}), "
                    f"got {shape_str(ya.shape)}"
                )
            if ya.dtype.kind not in "iu":
                raise TypeError(f"{name_y} must hold integer class indices, got dtype {ya.dtype}")
            lo, hi = (int(v) for v in cluster.compute_many(ya.min(), ya.max()))
            if loss == "logistic":
                self.vector, self.k, limit = True, 1, 2
            else:
                self.vector = False
                self.k = int(n_outputs) if n_outputs is not None else hi + 1
                if self.k < 2:
                    raise ValueError(f"softmax needs at least 2 classes, got k={self.k}")
                limit = self.k
            if lo < 0 or hi >= limit:
                raise ValueError(
                    f"{name_y} holds class indices outside [0, {limit}): found {lo}..{hi}"
                )
        if n_outputs is not None and loss == "mse" and n_outputs != self.k:
            raise ValueError(f"{name_y} has {self.k} outputs, expected {n_outputs}")
        self.X: Any = Xd
        self.Y: Any = ya
        cluster.names[Xd.name] = self.names

    def curvature(self, fit_intercept: bool, precise: bool = False) -> tuple[float, float]:
        """(λ_max, trace) of A = X̃ᵀX̃/n from the Gram matrix, summed over blocks in one pass."""
        del precise  # the Gram matrix's eigenvalues are exact
        m = self.d + 1 if fit_intercept else self.d
        if m > _MAX_GRAM:
            raise ValueError(
                f"learning_rate='auto' on dask arrays needs a ({m}, {m}) Gram matrix; with "
                f"{self.d} features pass a number, for example "
                "fastsgd.auto_learning_rate(X[:100_000].compute(), ...) on a sample"
            )
        flat = self.cluster.run(self.X, self.Y, _gram_task, fit_intercept)
        A = flat[1:].reshape(m, m) / flat[0]
        return float(np.linalg.eigvalsh(A)[-1]), float(np.trace(A))


def _gram_task(Xb: Any, _yb: Any, fit_intercept: bool) -> FloatArray:
    return _block_gram(Xb, fit_intercept)


def _finite_task(Xb: Any, yb: Any) -> FloatArray:
    return np.concatenate([_block_finite(Xb), _block_finite(yb)])


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


def _dask_targets(y: Any, name: str, X: da.Array, client: distributed.Client) -> da.Array:
    rows = X.chunks[0]
    if isinstance(y, da.Array):
        ya = y
    else:  # in client memory: sent to the workers once, in X's row blocks
        arr = as_array(y, name)
        if arr.ndim == 0:
            raise ValueError(f"{name} must be 1-d or 2-d, got a scalar")
        if arr.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} has {arr.shape[0]} rows but X has {X.shape[0]}: they must match"
            )
        ya = client.persist(da.from_array(arr, chunks=(rows, *arr.shape[1:])))
    if ya.ndim == 0 or ya.shape[0] != X.shape[0]:
        raise ValueError(
            f"{name} must have one row per row of X ({X.shape[0]}), got shape {shape_str(ya.shape)}"
        )
    if any(math.isnan(c) for c in ya.chunks[0]):
        raise ValueError(f"{name} has unknown chunk sizes: call {name}.compute_chunk_sizes() first")
    if ya.chunks[0] != rows:
        ya = ya.rechunk({0: rows})
    if ya.ndim == 2 and ya.numblocks[1] > 1:
        ya = ya.rechunk({1: -1})
    return ya


# ---------------------------------------------------------------------------
# The backend: what _fit calls once per epoch.
# ---------------------------------------------------------------------------


class _DaskBackend:
    def __init__(
        self,
        prob: Problem,
        opts: Options,
        *,
        cluster: _Cluster,
        method: str,
        local_epochs: int,
    ) -> None:
        self.prob, self.opts, self.cluster = prob, opts, cluster
        self.X: Any = prob.X  # dask arrays (a DaskProblem)
        self.Y: Any = prob.Y
        self.method, self.local_epochs = method, local_epochs
        self.layout = _Layout(prob.loss_id, prob.d, prob.k, opts.fit_intercept)
        self.train_layout = _Layout(
            prob.loss_id, prob.d, prob.k, opts.fit_intercept, momentum=opts.momentum > 0
        )
        n_blocks = len(cluster.blocks_of(self.X, self.Y)[0])
        seeds = np.random.SeedSequence(opts.seed).spawn(n_blocks)
        self.seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in seeds]
        self.n_blocks = n_blocks
        # method="gradient": the gradient found with the last loss, and where it was taken
        self._grad: tuple[FloatArray, FloatArray, float] | None = None
        self.checked = False

    # -- loss -------------------------------------------------------------------------
    def loss(self, X: Any, Y: Any, state: State) -> float:
        params = self.layout.pack(state)
        if not isinstance(X, da.Array):  # in-memory validation data
            value, _, _ = _core.loss_grad(
                X, Y, state.Wt, state.b, self.prob.loss_id, False, self.opts.n_threads
            )
            return float(value)
        train = X is self.X and Y is self.Y
        grad = train and self.method == "gradient"
        flat = self.cluster.run(
            X, Y, _block_loss_grad, params, self.layout, grad, self.opts.n_threads
        )
        value = float(flat[1] / flat[0])
        if not math.isfinite(value) and not self.checked:
            self._check_finite(X, Y)
        self.checked = True
        if grad:
            self._grad = (flat[2:] / flat[0], params, value)
        return value

    def _check_finite(self, X: da.Array, Y: da.Array) -> None:
        name_X, name_y = self.cluster.names.get(X.name, ("X", "y"))
        n_finite = self.cluster.run(X, Y, _finite_task)  # blocks without NaN/inf, X and y
        n_blocks = len(self.cluster.blocks_of(X, Y)[0])
        if n_finite[0] < n_blocks:
            raise ValueError(f"{name_X} contains NaN or infinity")
        if n_finite[1] < n_blocks:
            raise ValueError(f"{name_y} contains NaN or infinity")

    # -- one epoch --------------------------------------------------------------------
    def epoch(self, state: State, *, lr: float, epoch: int) -> tuple[int, float]:
        if self.method == "gradient":
            return self._gradient_step(state, lr)
        return self._average(state, lr, epoch)

    def _gradient_step(self, state: State, lr: float) -> tuple[int, float]:
        params = self.layout.pack(state)
        if self._grad is None or not np.array_equal(self._grad[1], params):
            self.loss(self.X, self.Y, state)
        assert self._grad is not None
        g, _, value = self._grad
        o, lay = self.opts, self.layout
        kd = lay.k * lay.d
        G = np.ascontiguousarray(g[:kd].reshape(lay.k, lay.d))
        _core.sgd_step(
            state.Wt, G, state.vW, lr, o.momentum, o.dampening, o.nesterov, o.weight_decay
        )
        if state.b is not None:  # no weight decay on the intercept, as in the core
            gb = np.ascontiguousarray(g[kd:])
            _core.sgd_step(state.b, gb, state.vb, lr, o.momentum, o.dampening, o.nesterov, 0.0)
        self._grad = None
        return 1, value

    def _average(self, state: State, lr: float, epoch: int) -> tuple[int, float]:
        o, lay = self.opts, self.train_layout
        job = _LocalSgd(
            layout=lay,
            batch_size=o.batch_size,
            shuffle=o.shuffle,
            lr=lr,
            momentum=o.momentum,
            dampening=o.dampening,
            nesterov=o.nesterov,
            weight_decay=o.weight_decay,
            local_epochs=self.local_epochs,
            epoch=epoch,
            threads=o.n_threads,
        )
        xs, ys = self.cluster.blocks_of(self.X, self.Y)
        params = delayed(lay.pack(state), pure=True)
        call = delayed(_block_train, pure=True)
        parts = [call(xb, yb, params, job, s) for xb, yb, s in zip(xs, ys, self.seeds, strict=True)]
        flat = self.cluster.compute(_tree_sum(parts))
        n = flat[0]
        Wt, b, vW, vb = lay.unpack(flat[3:] / n)
        state.Wt[...] = _req(Wt).reshape(lay.k, lay.d)
        if state.b is not None:
            state.b[...] = _req(b)
        if state.vW is not None:
            state.vW[...] = _req(vW).reshape(lay.k, lay.d)
        if state.vb is not None:
            state.vb[...] = _req(vb)
        return int(flat[1]), float(flat[2] / n)


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
    loss: str = "mse",
    learning_rate: float | str = 0.1,
    batch_size: int | None = None,
    epochs: int = 10,
    shuffle: bool = True,
    seed: Any = 0,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    schedule: str | Callable[[int], float] = "constant",
    power_t: float = 0.25,
    step_size: int = 10,
    gamma: float = 0.1,
    fit_intercept: bool = False,
    b0: Any = None,
    tol: float | None = None,
    n_iter_no_change: int = 5,
    validation_data: tuple[Any, Any] | None = None,
    early_stopping: bool = False,
    callback: Callable[[int, float, FloatArray], Any] | None = None,
    progress: bool = False,
    record_path: bool = False,
    n_classes: int | None = None,
    epoch_offset: int = 0,
    n_threads: int | None = None,
) -> FitResult:
    """Train a linear model on dask arrays over a dask.distributed cluster.

    The options and the result are those of :func:`fastsgd.fit`; the rows stay
    on the workers, and only the parameters (d × k numbers per block) cross
    the network, once per epoch.

    Parameters
    ----------
    X : dask.array.Array (n, d), chunked along rows (columns are rechunked to one
        block). It may be larger than any worker's memory: it is read block by block,
        and never computed whole or gathered to the client.
    y : dask array (or in-memory array, sent to the workers once) with X's rows.
    method : ``"average"`` or ``"gradient"``.

        - ``"average"``: parallel SGD with model averaging. Each epoch every block runs
          ``local_epochs`` epochs of mini-batch SGD (``batch_size``, ``shuffle`` with a
          per-block seed drawn from ``seed``, ``momentum``, ``nesterov``, ``dampening``,
          ``weight_decay``) in the C++ core on its worker, from the current parameters;
          the results (and momentum buffers) are averaged weighted by block rows. With
          ``batch_size=None`` and ``local_epochs=1`` this equals full-batch gradient
          descent without momentum.
        - ``"gradient"``: exact full-batch gradient descent (``batch_size`` must be None;
          ``shuffle`` and ``seed`` do not apply). The fused loss + gradient of every block
          is summed on the cluster, then one step is taken with ``momentum``,
          ``nesterov``, ``dampening`` and ``weight_decay`` as in ``fastsgd.fit``. The
          gradient comes from the same pass as the epoch's loss: one pass over X per
          epoch (``"average"`` makes two: local training, then the loss).
    client : a ``distributed.Client``. Default: the current client
        (``distributed.get_client()``), else a ``LocalCluster`` on 127.0.0.1 started for
        this call and closed when it returns (start your own for repeated fits).
    local_epochs : epochs each block runs between averages (``"average"`` only).
    loss, learning_rate, ... : as :func:`fastsgd.fit`. ``learning_rate="auto"`` sums
        the (d+1)² Gram matrix over blocks in one pass. ``validation_data`` may be dask
        or in-memory arrays. ``n_threads`` is the core's threads per block task (by
        default the worker's OpenMP setting: 1 under a dask Nanny; dask runs one task per
        worker thread).

    Returns
    -------
    FitResult
        As :func:`fastsgd.fit`; ``n_steps`` counts the SGD steps of all blocks, and
        ``extra`` holds ``method``, ``n_blocks`` and ``local_epochs``.

    Examples
    --------
    >>> import dask.array as da, distributed
    >>> import fastsgd.dask
    >>> from fastsgd.datasets import make_line
    >>> X, y = make_line(n=1000)
    >>> with distributed.Client(processes=False, dashboard_address=None) as client:
    ...     r = fastsgd.dask.fit(da.from_array(X, chunks=250), da.from_array(y, chunks=250),
    ...                          method="gradient", learning_rate=0.5, epochs=200)
    >>> r.w.round(1)
    array([3. , 2.5])
    """
    kw = dict(locals())
    del kw["method"], kw["client"], kw["local_epochs"]
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    local_epochs = check_int(local_epochs, "local_epochs", minimum=1)
    if method == "gradient":
        if batch_size is not None:
            raise ValueError(
                "batch_size must be None with method='gradient' (full-batch gradient "
                "descent); use method='average' for mini-batches"
            )
        if local_epochs != 1:
            raise ValueError("local_epochs only applies to method='average'")
    _dask_rows(X, "X")  # a TypeError before any cluster is started
    with _client_scope(client) as cl:
        cluster = _Cluster(cl)
        problem = functools.partial(_problem, cluster=cluster)
        backend = functools.partial(
            _DaskBackend, cluster=cluster, method=method, local_epochs=local_epochs
        )
        result = _fit(backend, problem, **kw)
        n_blocks = X.numblocks[0]
    result.extra.update(method=method, n_blocks=n_blocks, local_epochs=local_epochs)
    return result


def _problem(X: Any, y: Any, loss: str, *, cluster: _Cluster, **kw: Any) -> Problem:
    if isinstance(X, da.Array):
        return DaskProblem(X, y, loss, cluster=cluster, **kw)
    if isinstance(y, da.Array):
        raise TypeError(f"{kw.get('name_y', 'y')} is a dask array but X is not")
    return Problem(X, y, loss, **kw)


# ---------------------------------------------------------------------------
# scikit-learn estimators (fastsgd.SGDRegressor, fastsgd.SGDClassifier) on dask arrays
# ---------------------------------------------------------------------------

PREDICT_METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")


def _is_classifier(estimator: Any) -> bool:
    return hasattr(estimator, "predict_proba")


def _dask_labels(y: Any, X: da.Array) -> da.Array:
    ya: da.Array = (
        y if isinstance(y, da.Array) else da.from_array(np.asarray(y), chunks=X.chunks[0])
    )
    if ya.ndim != 1:
        raise ValueError(f"y must be 1-d (one label per row), got shape {shape_str(ya.shape)}")
    return ya


def _encode_block(yb: Any, classes: Any) -> Any:
    return np.searchsorted(classes, yb).astype(np.int64)


def _class_targets(estimator: Any, y: Any, X: da.Array, client: distributed.Client,
                   classes: Any, *, first: bool) -> da.Array:  # fmt: skip
    """Sets classes_ (on the first fit) and returns y as class indices, block by block."""
    from sklearn.utils.multiclass import check_classification_targets

    ya = _dask_labels(y, X)
    # the distinct labels only come back
    seen = np.asarray(client.compute(da.unique(ya), optimize_graph=False).result())
    check_classification_targets(seen)
    if first:
        labels = seen if classes is None else np.unique(np.asarray(classes))
        if len(labels) < 2:
            raise ValueError(f"SGDClassifier needs at least 2 classes; got 1 class ({labels[0]!r})")
        old = getattr(estimator, "classes_", None)
        if estimator.warm_start and old is not None and not np.array_equal(old, labels):
            raise ValueError(
                f"warm_start=True but y has the classes {labels!r}, not the classes_ {old!r} "
                "of the fitted model; refit with warm_start=False"
            )
        estimator.classes_ = labels
    unknown = np.setdiff1d(seen, estimator.classes_)
    if unknown.size:
        raise ValueError(f"y contains labels not in classes_ {estimator.classes_!r}: {unknown!r}")
    encoded: da.Array = da.map_blocks(_encode_block, ya, estimator.classes_, dtype=np.int64)
    return encoded


def _regression_targets(y: Any, X: da.Array) -> Any:
    ya = y if isinstance(y, da.Array) else as_array(y, "y")
    if ya.ndim not in (1, 2):
        raise ValueError(f"y must have shape (n,) or (n, k), got {shape_str(ya.shape)}")
    if ya.dtype.kind not in "fiub":
        raise ValueError(f"y must be numeric, got dtype {ya.dtype}")
    return ya


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


def _auto_rate_dask(X: da.Array, y: Any, opts: dict[str, Any], n_outputs: int,
                    cluster: _Cluster) -> float:  # fmt: skip
    from fastsgd.training import _auto_rate

    prob = DaskProblem(X, y, opts["loss"], cluster=cluster,
                       n_outputs=opts.get("n_classes"))  # fmt: skip
    lam, trace = prob.curvature(opts["fit_intercept"])
    return _auto_rate(lam, trace, opts["loss"], prob.n, opts["batch_size"], n_outputs)


def _forget_feature_names(estimator: Any) -> None:
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_  # dask arrays carry no column names


def fit_estimator(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    method: str = "average",
    client: Any = None,
    local_epochs: int = 1,
) -> Any:
    """Fit a fastsgd ``SGDRegressor`` or ``SGDClassifier`` on dask arrays.

    ``estimator.fit(X, y, **fit_params)`` calls this when X is a dask array; the
    estimator's parameters (``get_params()``) become the options of :func:`fit`,
    and its learned attributes (``coef_``, ``intercept_``, ``n_features_in_``,
    ``classes_``, ``loss_history_``, ``n_iter_``, ...) are set from the result.

    - A classifier's labels may be any values: their distinct values are found on the
      cluster (``classes_``) and the rows are encoded block by block.
    - ``early_stopping`` holds out ``validation_fraction`` of every block's rows (a
      seeded choice per block; not stratified).
    - ``method="gradient"`` is full-batch gradient descent: the estimator's
      ``batch_size`` and ``shuffle`` do not apply.

    Parameters
    ----------
    estimator : fastsgd.SGDRegressor or fastsgd.SGDClassifier
    X, y : dask arrays chunked along rows (y may be in memory)
    method, client, local_epochs : as :func:`fit`

    Returns
    -------
    estimator, fitted

    Examples
    --------
    >>> import dask.array as da, distributed, fastsgd
    >>> X = da.random.default_rng(0).standard_normal((4000, 3), chunks=1000)
    >>> y = X @ da.from_array([1.0, -2.0, 0.5]) + 3.0
    >>> with distributed.Client(processes=False, dashboard_address=None) as client:
    ...     reg = fastsgd.SGDRegressor(random_state=0).fit(X, y, client=client)
    ...     pred = reg.predict(X)             # a dask array, computed block by block
    ...     err = float(abs(pred - y).max().compute())
    >>> reg.coef_.round(2), round(reg.intercept_, 2), err < 0.01
    (array([ 1. , -2. ,  0.5]), 3.0, True)
    """
    from sklearn.utils import check_random_state

    estimator._check_own_params()
    Xd = _dask_rows(X, "X")
    with _client_scope(client) as cl:
        if _is_classifier(estimator):
            y_fit: Any = _class_targets(estimator, y, Xd, cl, None, first=True)
        else:
            y_fit = _regression_targets(y, Xd)
        opts = estimator._fit_options()
        rng = check_random_state(estimator.random_state)
        validation = None
        if estimator.early_stopping:
            split_seed = int(rng.randint(np.iinfo(np.int32).max))
            y_fit = _dask_targets(y_fit, "y", Xd, cl)  # in X's row blocks
            Xd, X_val = _split_rows(Xd, estimator.validation_fraction, split_seed)
            y_fit, y_val = _split_rows(y_fit, estimator.validation_fraction, split_seed)
            validation = (X_val, y_val)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        w0, b0 = estimator._warm_params(int(Xd.shape[1]))
        offset = getattr(estimator, "_epochs_seen", 0) if w0 is not None else 0
        if method == "gradient":
            opts["batch_size"] = None
        result = fit(
            Xd, y_fit, w0, b0=b0, seed=seed, epochs=estimator.epochs,
            validation_data=validation, early_stopping=bool(estimator.early_stopping),
            epoch_offset=offset, method=method, client=cl, local_epochs=local_epochs, **opts,
        )  # fmt: skip
    estimator._seed = seed
    estimator.n_features_in_ = int(Xd.shape[1])
    _forget_feature_names(estimator)
    estimator._set_learned_from_result(result, epoch_offset=offset)
    return estimator


def partial_fit_estimator(
    estimator: Any,
    X: Any,
    y: Any,
    classes: Any = None,
    *,
    client: Any = None,
    local_epochs: int = 1,
) -> Any:
    """``estimator.partial_fit`` on dask arrays: one epoch of model averaging over X's
    blocks, continuing from the estimator's current state (as its in-memory
    ``partial_fit`` runs one epoch). A classifier needs ``classes`` on the first call.

    dask-ml's ``Incremental`` wrapper does not come here: it calls ``partial_fit``
    with one in-memory block at a time.

    Examples
    --------
    >>> import dask.array as da, distributed, fastsgd
    >>> X = da.random.default_rng(0).standard_normal((4000, 2), chunks=1000)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = fastsgd.SGDClassifier(random_state=0)
    >>> with distributed.Client(processes=False, dashboard_address=None) as client:
    ...     for _ in range(3):   # three averaged epochs
    ...         _ = clf.partial_fit(X, y, classes=[0, 1], client=client)
    >>> clf.n_iter_, clf.classes_.tolist()
    (3, [0, 1])
    """
    first = not hasattr(estimator, "coef_")
    estimator._check_own_params()
    Xd = _dask_rows(X, "X")
    d = int(Xd.shape[1])
    if not first and d != estimator.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input"
        )
    with _client_scope(client) as cl:
        if _is_classifier(estimator):
            if first and classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            if (
                not first
                and classes is not None
                and not np.array_equal(np.unique(classes), estimator.classes_)
            ):
                raise ValueError(
                    f"classes={np.unique(classes)!r} is not the same as "
                    f"classes_={estimator.classes_!r} from the first call to partial_fit"
                )
            y_fit: Any = _class_targets(estimator, y, Xd, cl, classes, first=first)
        else:
            y_fit = _regression_targets(y, Xd)
        opts = estimator._fit_options()
        if first or getattr(estimator, "_seed", None) is None:
            from sklearn.utils import check_random_state

            rs = check_random_state(estimator.random_state)
            estimator._seed = int(rs.randint(np.iinfo(np.int32).max))
        if first:
            estimator._epochs_seen = 0
            w0, b0 = None, None
            k = 1
            if y_fit.ndim == 2:
                k = int(y_fit.shape[1])
            if opts["learning_rate"] == "auto":
                lr0 = _auto_rate_dask(Xd, y_fit, opts, k, _Cluster(cl))
            else:
                lr0 = float(opts["learning_rate"])
        else:
            w0, b0 = estimator._params_for_fit()
            if not estimator.fit_intercept:
                b0 = None
            lr0 = float(
                estimator.learning_rate_
                if estimator.learning_rate == "auto"
                else estimator.learning_rate
            )
        epoch = int(getattr(estimator, "_epochs_seen", 0))
        opts.update(learning_rate=estimator._scheduled_lr(lr0, epoch), schedule="constant",
                    tol=None, progress=False)  # fmt: skip
        result = fit(
            Xd, y_fit, w0, b0=b0, seed=estimator._seed, epochs=1, epoch_offset=epoch,
            method="average", client=cl, local_epochs=local_epochs, **opts,
        )  # fmt: skip
    estimator.n_features_in_ = d
    if first:
        _forget_feature_names(estimator)
    estimator._set_learned(
        result.w, result.b, result.loss_history, n_iter=1, learning_rate=lr0,
        n_steps=result.n_steps, append=not first,
    )  # fmt: skip
    estimator._epochs_seen = epoch + 1
    return estimator


def _call_method(block: Any, estimator: Any, method: str) -> Any:
    return getattr(estimator, method)(block)


def predict_estimator(estimator: Any, X: Any, method: str = "predict") -> da.Array:
    """``estimator.<method>(X)`` block by block on the workers: a dask array, not computed.

    Each block is predicted by the fitted estimator's in-memory method, so the
    result has the rows of X (its row chunks) and the columns the method gives.

    Parameters
    ----------
    estimator : a fitted fastsgd.SGDRegressor or fastsgd.SGDClassifier
    X : dask array (n, n_features) chunked along rows
    method : "predict", "predict_proba", "decision_function" or "predict_log_proba"

    Returns
    -------
    dask.array.Array with X's row chunks

    Examples
    --------
    >>> import dask.array as da, numpy as np, fastsgd
    >>> clf = fastsgd.SGDClassifier(random_state=0).fit(np.eye(3), ["a", "b", "c"])
    >>> X = da.from_array(np.eye(3).repeat(2, axis=0), chunks=2)
    >>> p = predict_estimator(clf, X, method="predict_proba")   # clf.predict_proba(X) does this
    >>> p.shape, p.chunks, p.sum(axis=1).compute().round(6).tolist()   # no client: dask's own
    ((6, 3), ((2, 2, 2), (3,)), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    if method not in PREDICT_METHODS:
        raise ValueError(f"method must be one of {list(PREDICT_METHODS)}, got {method!r}")
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}")
    Xd = X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
    # one made-up row, predicted here, tells the output's shape and dtype
    probe = np.asarray(getattr(estimator, method)(np.zeros((1, Xd.shape[1]), Xd.dtype)))
    meta = np.empty((0, *probe.shape[1:]), probe.dtype)
    shape: dict[str, Any] = (
        {"drop_axis": 1, "chunks": (Xd.chunks[0],)}
        if probe.ndim == 1
        else {"chunks": (Xd.chunks[0], probe.shape[1:])}
    )
    out: da.Array = da.map_blocks(
        _call_method, Xd, estimator, method, dtype=probe.dtype, meta=meta, **shape
    )
    return out
