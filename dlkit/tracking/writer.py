"""Epoch metrics sent to the store from a thread of their own, merged into as few calls as possible."""

from __future__ import annotations

import threading
import time
from typing import Any

from dlkit.errors import TrackingError

#: the writer sends what accumulated at most this often (epoch metrics of short epochs merge)
WRITE_INTERVAL_S = 1.0
MAX_METRICS_PER_CALL = 1000


class BackgroundWriter:
    """Sends epoch metrics to the store from a thread of its own, merged into as few calls as possible.

    A synchronous `log_batch` costs a transaction on a SQLite store and a round trip on a remote
    server: once per epoch, that can outweigh a short epoch. Here the training
    thread only appends; the writer thread sends everything that accumulated, then waits
    WRITE_INTERVAL_S before the next send. `flush` waits until all is sent and raises the first
    error the thread met.
    """

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.pending: list[tuple[list[Any], list[Any]]] = []
        self.error: BaseException | None = None
        self.lock = threading.Condition()
        self.busy = False
        self.closing = False
        self.flushing = 0  # callers waiting in flush(): send now, without waiting out the interval
        self.thread = threading.Thread(target=self._loop, name=f"dlkit-mlflow-{run_id[:8]}", daemon=True)
        self.thread.start()

    def put(self, metrics: list[Any], tags: list[Any]) -> None:
        with self.lock:
            self._raise()
            self.pending.append((metrics, tags))
            self.lock.notify_all()

    def _next_batch(self, not_before: float) -> list[tuple[list[Any], list[Any]]] | None:
        """Wait (lock held) until something is pending and the interval is over, or a flush asks; None: closed."""
        while True:
            if self.closing and not self.pending:
                return None
            if self.pending and (self.closing or self.flushing or time.monotonic() >= not_before):
                batch, self.pending, self.busy = self.pending, [], True
                return batch
            # a put() wakes the thread, but only a flush or the end of the interval lets it send
            self.lock.wait(max(0.0, not_before - time.monotonic()) if self.pending else None)

    def _loop(self) -> None:
        # the first send waits out an interval too: a run shorter than that sends once, when it ends,
        # and the first (slowest) store call does not land among the first epochs
        not_before = time.monotonic() + WRITE_INTERVAL_S
        while True:
            with self.lock:
                batch = self._next_batch(not_before)
            if batch is None:
                return
            try:
                self._send(batch)
            except BaseException as e:  # reported to the training thread by flush()
                with self.lock:
                    self.error = self.error or e
            with self.lock:
                self.busy = False
                not_before = time.monotonic() + WRITE_INTERVAL_S
                self.lock.notify_all()

    def _send(self, batch: list[tuple[list[Any], list[Any]]]) -> None:
        metrics = [m for ms, _ in batch for m in ms]
        tags = list({t.key: t for _, ts in batch for t in ts}.values())  # the latest value of each tag
        for i in range(0, max(1, len(metrics)), MAX_METRICS_PER_CALL):
            self.client.log_batch(
                self.run_id, metrics=metrics[i : i + MAX_METRICS_PER_CALL], tags=tags if i == 0 else []
            )

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise TrackingError(f"could not log metrics of run {self.run_id}: {_first_line(error)}")

    def flush(self, close: bool = False) -> None:
        with self.lock:
            self.closing = self.closing or close
            self.flushing += 1
            try:
                self.lock.notify_all()
                while self.pending or self.busy:
                    self.lock.wait(0.05)
            finally:
                self.flushing -= 1
            self._raise()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
