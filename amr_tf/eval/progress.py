"""Progress lines of a long evaluation, on stderr (stdout keeps results)."""

import sys
import time

import keras


def track(items, label, enabled):
    """Yields `items`, printing `label i/n (s elapsed)` after each one.

    Args:
        items: a sized iterable, e.g. `range(resamples)`.
        label: what is counted, e.g. "fid_mix resamples".
        enabled: print nothing when False (tests, libraries).
    """
    total, start = len(items), time.perf_counter()
    for done, item in enumerate(items, start=1):
        yield item
        if enabled:
            print(f"  {label} {done}/{total} "
                  f"({time.perf_counter() - start:.1f} s)",
                  file=sys.stderr, flush=True)


class TrainingLines(keras.callbacks.Callback):
    """Prints `label step/total (loss, s elapsed)` `lines` times during `fit`."""

    def __init__(self, label, total, lines=10):
        super().__init__()
        self.label, self.total = label, total
        self.every = max(1, total // lines)

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        done = batch + 1
        if done % self.every == 0 or done == self.total:
            print(f"  {self.label} {done}/{self.total} "
                  f"(loss {float(logs['loss']):.4f}, "
                  f"{time.perf_counter() - self.start:.1f} s)",
                  file=sys.stderr, flush=True)
