"""Timing helpers shared by the benchmark scripts.

The development machine is shared, so other processes slow some calls
down: `times` returns every call's duration, and the scripts report the
fastest call (the machine's own speed) beside the median.
"""

import time

import tensorflow as tf


def _sync(result):
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t,
                          result)


def times(function, repeats, warmup=1):
    """Seconds of each of `repeats` calls of `function()`, after `warmup`
    calls; every call waits for its results."""
    for _ in range(warmup):
        _sync(function())
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        _sync(function())
        durations.append(time.perf_counter() - start)
    return durations


def milliseconds(function, repeats):
    """Mean wall time of `function()` in ms after one warm-up call (calls
    run back to back; only the last waits for its result)."""
    _sync(function())
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    _sync(result)
    return (time.perf_counter() - start) / repeats * 1e3


def matmul_gflops(size=2048, repeats=10, best=False):
    """fp32 matmul GFLOP/s of this machine: the mean rate, or with `best`
    the rate of the fastest call."""
    matrix = tf.random.normal((size, size))
    product = tf.function(lambda: matrix @ matrix)
    if best:
        seconds = min(times(product, repeats))
    else:
        seconds = milliseconds(product, repeats) / 1e3
    return 2 * size**3 / seconds / 1e9


def graph_gflop(function, *args):
    """GFLOP of one call of the tf.function `function(*args)`, counted by
    TF's profiler over the traced graph (convolutions, matmuls and their
    gradients; element-wise ops are not counted)."""
    from tensorflow.python.profiler import model_analyzer  # pylint: disable=g-import-not-at-top
    from tensorflow.python.profiler import option_builder  # pylint: disable=g-import-not-at-top

    graph = function.get_concrete_function(*args).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return model_analyzer.profile(graph, options=options).total_float_ops / 1e9
