"""Where and in what precision a run trains: `--strategy`, `--mixed_precision`.

`--batch_size` is the global batch: each of the strategy's N replicas takes
batch_size / N examples per update, and the losses are averaged over the
global batch (`tf.nn.compute_average_loss`), so gradients summed across
replicas are those of one device on the whole batch (METHOD.md §7).
"""

import contextlib
import dataclasses
import os

import keras
import tensorflow as tf

from amr_tf.core.errors import Argument
from amr_tf.core.errors import ArgumentError
from amr_tf.core.errors import check_choice
from amr_tf.core.fields import argument

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def make_strategy(name):
    """The `tf.distribute.Strategy` named by `--strategy`.

    default: the current (one-device) strategy. mirrored: every local GPU
    (the CPU when there is none). multi_worker: `MultiWorkerMirroredStrategy`
    configured from the `TF_CONFIG` environment variable. tpu: the TPU of
    `TPUClusterResolver()` (`TPU_NAME`, or the local TPU of a TPU VM).

    Raises:
        UsageError: unknown name, no TF_CONFIG or no TPU.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ArgumentError(
                "{strategy} needs the TF_CONFIG environment variable (the "
                "cluster and this worker's task): see docs/TRAINING.md",
                strategy=Argument("name", name, "strategy"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        except ValueError as error:
            raise ArgumentError(
                "{strategy} found no TPU ({error}); set TPU_NAME or run on a "
                "TPU VM", strategy=Argument("name", name, "strategy"),
                error=error) from error
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    check_choice("name", name, STRATEGIES)


def check_strategy(config, strategy):
    """Raises `UsageError` if `config` cannot train under `strategy`.

    The global batch must split evenly over the replicas. `--jit_compile`
    needs one replica or a TPU: Keras compiles the whole step, replicas
    included, and XLA cannot place one computation on several GPUs or CPUs.
    """
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ArgumentError(
            "{batch_size} must be a multiple of the {replicas} replicas of the "
            "strategy", batch_size=argument(config, "batch_size"),
            replicas=replicas)
    if (config.jit_compile and replicas > 1
            and not isinstance(strategy, tf.distribute.TPUStrategy)):
        jit_compile = argument(config, "jit_compile")
        raise ArgumentError(
            "{jit_compile} needs one replica or a TPU; this strategy has "
            "{replicas} replicas: use {no_jit} or {default}",
            jit_compile=jit_compile, replicas=replicas,
            no_jit=dataclasses.replace(jit_compile, value=False),
            default=dataclasses.replace(argument(config, "strategy"),
                                        value="default"))


def is_chief(strategy):
    """Whether this worker writes checkpoints, summaries and figures."""
    return strategy.extended.should_checkpoint


def spans_workers(strategy):
    """Whether `strategy` runs one training over several worker processes."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def any_worker(strategy):
    """A function(flag: bool) -> bool, True on every worker when any worker
    passed True.

    Each call is one all-reduce over the replicas of `strategy` (a collective
    that every worker joins), so all workers must call it at the same point of
    their programs, as they call a training step.
    """

    @tf.function
    def count(flag):
        flags = strategy.run(lambda: tf.cast(flag, tf.float32))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)

    return lambda flag: bool(count(tf.constant(flag)) > 0)


@contextlib.contextmanager
def dtype_policy(name):
    """Sets Keras's global dtype policy `name` inside the block.

    Layers take the policy when they are built, so build the networks inside
    and they keep it; the previous policy is restored on exit.
    """
    check_choice("name", name, PRECISIONS)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def wrap_optimizer(optimizer, precision):
    """`optimizer`, in a dynamic `LossScaleOptimizer` under mixed_float16.

    bfloat16 has float32's exponent range and needs no loss scaling.
    """
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def unwrap_optimizer(optimizer):
    """The optimizer that holds the slots: a loss-scale optimizer's inner one."""
    return getattr(optimizer, "inner_optimizer", optimizer)
