"""Where the labeller runs: in a child process by default, so OCR never shares the recorder's GIL.

Measured with ``tests/test_record_timing.py`` (1 action/s, two CPU hogs, a loaded 2-core machine):
with OCR on a thread of the recorder, the capture thread missed its 50 ms beat 15–50 times in
20 s (gaps up to 0.9 s) — rapidocr's Python pre/post-processing holds the GIL, and the model load on
the first click holds it for longer still; nicing that thread made it worse (the GIL holder, once
descheduled, blocks every thread). Without OCR, 7–14 times (the machine's own load). A child
process at ``nice +10`` takes the GIL out of the picture and lets the kernel prefer the capture.

* ``ProcessRunner(factory)``: ``factory`` is a picklable zero-argument callable (a module-level
  function, a class, a ``functools.partial``) that builds the labeller *in the child*; requests and
  answers are pickled over pipes (a 1280x800 frame: ~3 MB, a few ms). The child exits when the
  recorder dies (EOF on its stdin), so ``kill -9`` leaves no orphan.
* ``ThreadRunner(labeller)``: any callable, on one daemon thread — for labellers that cannot be
  pickled or must share the recorder's memory (and for tests).

Both run one call at a time and answer with a ``concurrent.futures.Future``; the labelling worker
decides how long to wait (``agent.record.labelling``). Each tells the worker the labeller's
``kinds`` and whether it takes the step's ``context`` (``agent.record.labels``). The recorder's
accessibility reader (``agent.record.watch``) runs in a ``ProcessRunner`` of its own.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future

LABEL_NICE = 5
_CHILD = "from agent.record.label_runner import serve; serve()"


class LabellerUnavailable(RuntimeError):
    """The labeller could not be built (e.g. OCR not installed); the message says why."""


def _send(f, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(struct.pack("<I", len(data)) + data)
    f.flush()


def _recv(f):
    head = f.read(4)
    if len(head) < 4:
        raise EOFError("the labeller process closed its pipe")
    (n,) = struct.unpack("<I", head)
    data = f.read(n)
    if len(data) < n:
        raise EOFError("the labeller process closed its pipe")
    return pickle.loads(data)


class ThreadRunner:
    def __init__(self, labeller: Callable) -> None:
        self.kinds = getattr(labeller, "kinds", None)
        self.context = bool(getattr(labeller, "context", False))  # it takes the step's context dict
        self._labeller = labeller
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="record-labeller", daemon=True).start()

    def submit(self, *args) -> Future:
        fut: Future = Future()
        self._calls.put((fut, args))
        return fut

    def _run(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            fut, args = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(self._labeller(*args))
                except BaseException as e:  # noqa: BLE001 - handed to the worker as data
                    fut.set_exception(e)

    def close(self) -> None:
        self._calls.put(None)


class ProcessRunner:
    def __init__(self, factory: Callable[[], Callable], *, nice: int = LABEL_NICE, start_timeout: float = 120.0) -> None:
        # its own session: a Ctrl-C at the terminal goes to the recorder (which drains the queue,
        # still labelling), not to the labeller; the labeller ends when its stdin closes
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(nice)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        ready: Future = Future()
        self._ready = ready
        threading.Thread(target=self._run, args=(factory,), name="record-labeller-pipe", daemon=True).start()
        try:
            info = ready.result(timeout=start_timeout)
            self.kinds, self.context = info["kinds"], info["context"]
        except Exception as e:
            self.close()
            raise LabellerUnavailable(f"the labeller process did not start: {e}") from None

    def submit(self, *args) -> Future:
        fut: Future = Future()
        self._calls.put((fut, args))
        return fut

    def _run(self, factory) -> None:
        out, inp = self._proc.stdin, self._proc.stdout
        try:
            _send(out, factory)
            status, value = _recv(inp)
            if status != "ready":
                raise LabellerUnavailable(value)
            self._ready.set_result(value)
        except BaseException as e:  # noqa: BLE001
            if not self._ready.done():
                self._ready.set_exception(e)
            return
        while True:
            item = self._calls.get()
            if item is None:
                return
            fut, args = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                _send(out, args)
                status, value = _recv(inp)
            except BaseException as e:  # noqa: BLE001 - the child died: every later call fails fast
                fut.set_exception(LabellerUnavailable(f"the labeller process is gone ({e})"))
                continue
            if status == "ok":
                fut.set_result(value)
            else:
                fut.set_exception(RuntimeError(value))

    def close(self) -> None:
        self._calls.put(None)
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def serve() -> None:
    """The child's side: build the labeller, then answer requests until EOF (see the module docstring).
    The protocol owns stdin and the original stdout; anything the labeller prints goes to stderr."""
    try:
        os.nice(int(sys.argv[1]) if len(sys.argv) > 1 else LABEL_NICE)
    except (OSError, ValueError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the recorder decides when we stop (EOF)
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the protocol
    try:
        factory = _recv(inp)
        labeller = factory()
        kinds = getattr(labeller, "kinds", None)
        _send(out, ("ready", {"kinds": frozenset(kinds) if kinds is not None else None,
                              "context": bool(getattr(labeller, "context", False))}))
    except EOFError:
        return
    except Exception as e:  # noqa: BLE001 - reported to the recorder
        _send(out, ("error", f"{type(e).__name__}: {e}"))
        return
    while True:
        try:
            args = _recv(inp)
        except EOFError:
            return
        try:
            _send(out, ("ok", labeller(*args)))
        except Exception as e:  # noqa: BLE001
            _send(out, ("error", f"{type(e).__name__}: {e}"[:500]))
