"""The training loop: blocks of iterations, checkpoints, preemption and
numerical faults.

Training runs in blocks of `log_every` iterations (Keras "epochs" for the
callbacks), counted from iteration 0 whatever the run resumed from; the last
block ends at `steps`, so it may be shorter. A checkpoint is saved at the end
of every block. Around that loop:

- SIGTERM (a scheduler's preemption notice) ends the current iteration, saves
  a checkpoint of it and returns with `preempted=True`; re-running the same
  command resumes there. Across the workers of a cluster, SIGTERM to any of
  them stops all of them after the same iteration, with one checkpoint.
- After every iteration the logged loss terms are checked. A NaN or Inf
  either stops training (`on_nonfinite="stop"`, raising
  `NonFiniteLossError` naming the iteration and the terms) or restores the
  last checkpoint and goes on with the next batch of the stream
  (`"rollback"`). Either way a checkpoint is only saved from weights whose
  losses were finite.
- A checkpoint that cannot be written (full disk) raises `WriteError`; the
  partial files are removed and the previous checkpoint stays the latest.
"""

import contextlib
import dataclasses
import glob
import os
import signal
import threading

import keras
import numpy as np
import tensorflow as tf

from amr_tf.config.train_config import NONFINITE_POLICIES
from amr_tf.core import distribution
from amr_tf.core.errors import WriteError
from amr_tf.core.errors import check_choice
from amr_tf.core.errors import write_failure_reason


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or Inf; nothing was saved from that state."""


@dataclasses.dataclass
class LoopResult:
    """What the loop did: Keras history, whether SIGTERM stopped it, and how
    many times it rolled back to a checkpoint."""

    history: dict
    preempted: bool = False
    rollbacks: int = 0


def nonfinite_terms(logs):
    """Names of the loss logs that are NaN or Inf, sorted, totals last.

    Args:
        logs: dict name -> scalar (the running means of one block).
    """
    names = [name for name, value in logs.items()
             if name.startswith(("g_", "d_"))
             and not np.all(np.isfinite(np.asarray(value)))]
    return sorted(names, key=lambda name: (name.endswith("_total"), name))


class Checkpoints:
    """Saves and restores the run's checkpoints.

    Args:
        manager: a `tf.train.CheckpointManager`.
        restore: function(model, path) restoring checkpoint `path`.
        directory: where the run's checkpoints are read from (the chief's).
        keep: False on a non-chief worker: its save (which every worker must
            take part in) goes to a private folder that is then deleted.
    """

    def __init__(self, manager, restore, directory, keep=True):
        self.manager = manager
        self.restore_fn = restore
        self.directory = directory
        self.keep = keep

    def latest(self):
        return tf.train.latest_checkpoint(self.directory)

    def save(self, iteration):
        """Saves checkpoint `iteration`.

        Raises:
            WriteError: the write failed (its partial files are removed; the
                latest checkpoint is still the previous one).
        """
        try:
            self.manager.save(checkpoint_number=iteration)
        except (OSError, tf.errors.OpError) as error:
            self._remove_partial(iteration)
            raise WriteError(
                f"cannot write checkpoint {iteration} to "
                f"{self.manager.directory}: {write_failure_reason(error)}; "
                "the latest checkpoint "
                f"is still {self.latest() or 'none'} (free space and re-run "
                "the same command to resume from it)") from None
        finally:
            if not self.keep and tf.io.gfile.exists(self.manager.directory):
                tf.io.gfile.rmtree(self.manager.directory)

    def _remove_partial(self, iteration):
        prefix = os.path.join(self.manager.directory, f"ckpt-{iteration}")
        for path in glob.glob(prefix + ".*") + glob.glob(prefix + "_temp*"):
            if os.path.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                os.remove(path)

    def restore(self, model):
        """Restores the latest checkpoint into `model`; returns its path."""
        path = self.latest()
        self.restore_fn(model, path)
        return path


@contextlib.contextmanager
def sigterm_requests():
    """Yields a `threading.Event` set by SIGTERM while the block runs.

    The handler is only installed from the main thread (Python's rule);
    elsewhere SIGTERM keeps its usual effect.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: requested.set())
    try:
        yield requested
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def preemption_requests(strategy):
    """Yields a function() -> bool: whether SIGTERM asks training to stop.

    In one process: whether it got SIGTERM while the block ran. Across the
    workers of `strategy` (`distribution.spans_workers`): whether any of them
    did. That answer is an all-reduce, so every worker asks it after every
    iteration and all of them get the same answer after the same iteration.
    (`tf.distribute.experimental.PreemptionCheckpointHandler` agrees through
    the coordination service instead, but it queries the GCE metadata server
    when created, does nothing on GCE CPU VMs, adds a variable of its own to
    the checkpoint and restores checkpoints itself.)
    """
    with sigterm_requests() as sigterm:
        if distribution.spans_workers(strategy):
            any_worker = distribution.any_worker(strategy)
            yield lambda: any_worker(sigterm.is_set())
        else:
            yield sigterm.is_set


def stop_requests(strategy):
    """A function(stop: bool) -> bool for a stop a callback asks for when
    training starts or a block ends (`model.stop_training`): across the
    workers of `strategy`, True on all of them when any asked (a callback
    may run on the chief alone); in one process, `stop` itself."""
    if distribution.spans_workers(strategy):
        return distribution.any_worker(strategy)
    return bool


def run(model, make_iterator, checkpoints, *, steps, log_every,
        on_nonfinite="stop", max_rollbacks=3, callbacks=()):
    """Trains `model` from its current iteration to `steps`.

    Args:
        model: a compiled `AdversarialAutoencoder`.
        make_iterator: function(batches_consumed) -> iterator over the
            training batches, positioned after that many batches.
        checkpoints: a `Checkpoints`.
        steps: the iteration count to reach.
        log_every: iterations per block; a checkpoint ends every block.
        on_nonfinite: "stop" or "rollback" (see the module docstring).
        max_rollbacks: rollbacks allowed in a row (without a checkpoint
            saved in between) before stopping anyway.
        callbacks: Keras callbacks, called as by `fit` with one epoch per
            block (progress lines come from one, `callbacks.Progress`). One
            that sets `model.stop_training` stops training after the
            iteration, with a checkpoint; set in `on_train_begin` or
            `on_epoch_end`, it stops every worker of a cluster.

    Raises:
        NonFiniteLossError: a loss became NaN/Inf and the policy (or the
            rollback limit) says stop.
        WriteError: a checkpoint could not be written.
    """
    check_choice("on_nonfinite", on_nonfinite, NONFINITE_POLICIES)
    done = model.completed_iterations()
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, add_progbar=False,
        epochs=-(-steps // log_every), steps=log_every, model=model)
    if on_nonfinite == "rollback" and checkpoints.latest() is None:
        checkpoints.save(done)  # Something to roll back to.
    model.make_train_function()
    model.stop_training = False
    iterator = make_iterator(int(model.batches_consumed.numpy()))
    result = LoopResult(history={})
    rollbacks_in_a_row = 0
    logs = {}
    agreed_stop = stop_requests(model.distribute_strategy)
    callback_list.on_train_begin()
    model.stop_training = agreed_stop(model.stop_training)
    with preemption_requests(model.distribute_strategy) as preempted:
        while (done < steps and not result.preempted
               and not model.stop_training):
            block = done // log_every
            block_end = min((block + 1) * log_every, steps)
            model.reset_metrics()
            callback_list.on_epoch_begin(block)
            while done < block_end:
                callback_list.on_train_batch_begin(done - block * log_every)
                logs = model.train_function(iterator)
                bad_terms = nonfinite_terms(logs)
                if bad_terms:
                    failed = done + 1
                    _check_rollback_allowed(
                        on_nonfinite, rollbacks_in_a_row, max_rollbacks,
                        failed, bad_terms, checkpoints.latest())
                    _roll_back(model, checkpoints)
                    result.rollbacks += 1
                    rollbacks_in_a_row += 1
                    done = model.completed_iterations()
                    print(f"Iteration {failed}: {', '.join(bad_terms)} NaN or "
                          f"Inf; rolled back to iteration {done} and skipped "
                          "the batch.")
                    break
                done += 1
                callback_list.on_train_batch_end(done - 1 - block * log_every,
                                                 logs)
                result.preempted = preempted()
                if result.preempted or model.stop_training:
                    break
            else:
                callback_list.on_epoch_end(block, _block_logs(model))
                model.stop_training = agreed_stop(model.stop_training)
            if done == block_end or result.preempted or model.stop_training:
                checkpoints.save(done)
                rollbacks_in_a_row = 0
            if model.stop_training:
                break
    callback_list.on_train_end(logs=_block_logs(model))
    result.history = model.history.history if model.history else {}
    return result


def _block_logs(model):
    """The block's running means of the loss terms, as Python floats."""
    return {name: float(value)
            for name, value in model.get_metrics_result().items()}


def _check_rollback_allowed(policy, rollbacks_in_a_row, max_rollbacks,
                            iteration, terms, latest):
    """Raises `NonFiniteLossError` unless a rollback should happen."""
    message = (f"iteration {iteration}: loss {', '.join(terms)} is NaN or "
               f"Inf; stopped without saving, the latest checkpoint is still "
               f"{latest or 'none'}")
    if policy == "stop":
        raise NonFiniteLossError(
            f"{message} (--on_nonfinite=rollback restores it and skips the "
            "batch; a lower --learning_rate may avoid it)")
    if rollbacks_in_a_row >= max_rollbacks:
        raise NonFiniteLossError(
            f"{message}, after {rollbacks_in_a_row} rollbacks in a row "
            "(--max_rollbacks): lower --learning_rate or check the data")


def _roll_back(model, checkpoints):
    """Restores the latest checkpoint but keeps the input stream's position,
    so training goes on with the batch after the one that failed."""
    consumed = model.batches_consumed.numpy()
    checkpoints.restore(model)
    model.batches_consumed.assign(consumed)
    model.reset_metrics()
