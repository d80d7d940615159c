"""TF Serving's session-level batching (`--enable_batching`), for the stand-in.

`BatchingSession` wraps a loaded version's `SavedModelBundle` as TF
Serving's `BatchingSession` wraps its session (tensorflow_serving/batching/
batching_session.cc): concurrent runs of one signature asking for the same
outputs queue together; a batch closes when it holds `max_batch_size` rows or
its first request has waited `batch_timeout_micros`, and one of
`num_batch_threads` threads runs it as one session run on the inputs
concatenated along the batch axis (padded up to an allowed batch size by
repeating the last request's first row), then splits the outputs back by
rows. The run's status goes to every request in the batch: one request that
fails the graph's checks fails the others too. A request over
`max_batch_size` rows, or finding `max_enqueued_batches` batches waiting, is
refused alone, as TF Serving refuses it.
"""

import collections
import threading
import time
import weakref

import grpc
import numpy as np

from amr_tf.tfserving.predict import RequestError


class _Task:
    """One request's run: its inputs, its rows, and its answer once done."""

    def __init__(self, feeds, size):
        self.feeds = feeds
        self.size = size
        self.enqueued = time.monotonic()
        self.done = threading.Event()
        self.outputs = None
        self.error = None


class _Queue:
    """The batches of one (signature, outputs): the open one last."""

    def __init__(self, signature_name, output_keys):
        self.signature_name = signature_name
        self.output_keys = output_keys
        self.batches = collections.deque()  # Lists of tasks; the last is open.
        self.open_rows = 0


class BatchingSession:
    """A `SavedModelBundle` whose `run` batches concurrent calls.

    Args:
        bundle: the loaded version (its `run` is called from batch threads).
        parameters: a `BatchingParameters`.

    Attributes:
        signature_defs: the bundle's.
        batches_run: merged session runs so far (for tests and benchmarks).

    Raises:
        ValueError: `parameters` split large requests, which this stand-in
            does not do.
    """

    def __init__(self, bundle, parameters):
        if parameters.max_execution_batch_size:
            raise ValueError("enable_large_batch_splitting is not supported "
                             "by the stand-in's --enable_batching")
        self.signature_defs = bundle.signature_defs
        self._state = _State(bundle, parameters)
        self._threads = [
            threading.Thread(target=self._state.work, daemon=True,
                             name=f"batch-{index}")
            for index in range(parameters.num_batch_threads)]
        for thread in self._threads:
            thread.start()
        # The threads hold the state, not this object: they stop once the
        # last request holding this version lets go of it.
        weakref.finalize(self, self._state.stop)

    @property
    def batches_run(self):
        return self._state.batches_run

    def run(self, signature_name, feeds, output_keys):
        """`SavedModelBundle.run`, batched with concurrent calls.

        Raises:
            RequestError: INVALID_ARGUMENT for a request over max_batch_size,
                UNAVAILABLE when the queue is full.
            tf.errors.OpError: the batch's session run failed (also when
                another request of the batch caused it).
        """
        return self._state.run(signature_name, feeds, tuple(output_keys))

    def close(self):
        self._state.stop()


class _State:
    """The queues and batch threads of one `BatchingSession`."""

    def __init__(self, bundle, parameters):
        self.bundle = bundle
        self.parameters = parameters
        self.queues = {}  # (signature, output keys) -> _Queue
        self.condition = threading.Condition()
        self.stopped = False
        self.batches_run = 0

    def run(self, signature_name, feeds, output_keys):
        size = len(next(iter(feeds.values())))
        limit = self.parameters.max_batch_size
        if size > limit:
            raise RequestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Task size {size} is larger than maximum input batch size {limit}")
        task = _Task(feeds, size)
        with self.condition:
            key = (signature_name, output_keys)
            queue = self.queues.setdefault(key, _Queue(*key))
            if not queue.batches or queue.open_rows + size > limit:
                if len(queue.batches) >= self.parameters.max_enqueued_batches:
                    raise RequestError(
                        grpc.StatusCode.UNAVAILABLE,
                        "The batch scheduling queue to which this task was "
                        "submitted is full")
                queue.batches.append([])
                queue.open_rows = 0
            queue.batches[-1].append(task)
            queue.open_rows += size
            self.condition.notify()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def stop(self):
        with self.condition:
            self.stopped = True
            self.condition.notify_all()

    def _ready_batch(self):
        """Takes the batch to run next, or returns the seconds until one is
        due (None: nothing queued). Called holding the condition."""
        timeout = self.parameters.batch_timeout_micros / 1e6
        wait = None
        for queue in self.queues.values():
            if not queue.batches:
                continue
            full = (len(queue.batches) > 1
                    or queue.open_rows >= self.parameters.max_batch_size)
            due = queue.batches[0][0].enqueued + timeout - time.monotonic()
            if full or due <= 0:
                tasks = queue.batches.popleft()
                if not queue.batches:
                    queue.open_rows = 0
                return queue, tasks
            wait = due if wait is None else min(wait, due)
        return wait

    def work(self):
        """A batch thread: runs batches until stopped."""
        while True:
            with self.condition:
                while True:
                    if self.stopped:
                        return
                    ready = self._ready_batch()
                    if isinstance(ready, tuple):
                        break
                    self.condition.wait(ready)
            self._process(*ready)

    def _process(self, queue, tasks):
        """One merged session run; every task gets its rows or the error."""
        try:
            merged, sizes = merge(tasks, self.parameters)
            outputs = self.bundle.run(queue.signature_name, merged,
                                      queue.output_keys)
            for task, rows in zip(tasks, split(outputs, sizes)):
                task.outputs = rows
        except Exception as error:  # The run's status goes to every task.
            for task in tasks:
                task.error = error
        self.batches_run += 1
        for task in tasks:
            task.done.set()


def merge(tasks, parameters):
    """The tasks' inputs concatenated by key, padded to an allowed size.

    Returns:
        `(feeds, sizes)`: input key -> merged array, and each task's rows
        (then the padding's, if any).

    Raises:
        RequestError: FAILED_PRECONDITION when an input's shapes differ past
            the batch axis (TF Serving's message).
    """
    sizes = [task.size for task in tasks]
    padding = parameters.padded_size(sum(sizes)) - sum(sizes)
    feeds = {}
    for key in tasks[0].feeds:
        arrays = [task.feeds[key] for task in tasks]
        if any(array.shape[1:] != arrays[0].shape[1:] for array in arrays):
            raise RequestError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Tensors with name '{key}' from different tasks have "
                "different shapes and padding is turned off. Set "
                "pad_variable_length_inputs to true, or ensure that all "
                "tensors with the same name have equal dimensions starting "
                "with the first dim.")
        arrays += [arrays[-1][:1]] * padding
        feeds[key] = np.concatenate(arrays)
    return feeds, sizes + [padding] * bool(padding)


def split(outputs, sizes):
    """Per task, output key -> its rows of the merged `outputs` (padding
    rows dropped)."""
    bounds = np.cumsum(sizes)[:-1]
    pieces = {key: np.split(value, bounds) for key, value in outputs.items()}
    return [{key: pieces[key][index] for key in outputs}
            for index in range(len(sizes))]
