"""The code string that samples (and replays) functions inside sandbox tasks.

The reference starts a fresh interpreter per function; we fork one sandbox child per function
and run the whole generator loop in it, so untrusted code never runs in our process and the cost
is one fork, not one interpreter start, per function.

The child source is ``sizes.py`` followed by ``_CHILD_SOURCE`` below, shipped as bytecode
compiled once in the host (``harness_code``). It defines three entries:

``SAMPLE_ENTRY(refcode, inputgen, funcname, seed, pairs, tries, budget_s, call_timeout_s,
limits, prelude, soft_budget_s, min_pairs)`` -> ``{"pairs": [...], "stats": {...}, "setup_error"}``
    Loads both code strings as fresh modules, seeds every RNG from ``seed``, then calls the
    generator up to ``tries`` times, keeping up to ``pairs`` distinct, size-checked pairs within
    a time budget that follows the function's own pace. The stored input is a JSON snapshot
    taken *before* the call, so a function that mutates its arguments cannot corrupt it; the
    call itself gets the generator's own object. A generated input seen before is not run again.

``SAMPLE_BATCH_ENTRY(functions, ..., slice_s)`` -> one sample result per function started
    The same for several functions in one process (one fork for all), in order, starting no
    function after ``slice_s`` seconds; the host samples the rest in later tasks. Process-wide
    settings and the task dir are put back between functions.

``REPLAY_ENTRY(refcode, funcname, inputs, seed, call_timeout_s, prelude)``
    -> ``{"results": [{"status", "output" | "error"}], "setup_error": ..., "phases_s": ...}``
    Re-runs ``main_solution`` on inputs given as stored JSON text (each call decodes its own
    copy) in a fresh module per input, with the global RNGs seeded from ``seed``; used by the
    determinism check and recheck.

``REPLAY_BATCH_ENTRY(functions, call_timeout_s, prelude)`` -> one replay result per function
    The same for several functions in one process, putting process-wide settings (builtins,
    cwd, environment, recursion limit, decimal context, numpy error/print options) back
    between them.
"""

from __future__ import annotations

import base64
import functools
import inspect
import marshal
import re
import sys

from codeio.pipeline.prelude import REFCODE_PRELUDE as NAMESPACE_PRELUDE
from codeio.pipeline.sample import sizes

__all__ = [
    "NAMESPACE_PRELUDE",
    "REPLAY_BATCH_ENTRY",
    "REPLAY_ENTRY",
    "SAMPLE_BATCH_ENTRY",
    "SAMPLE_ENTRY",
    "harness_code",
    "harness_source",
    "prelude_for",
]

SAMPLE_ENTRY = "codeio_sample_entry"
REPLAY_ENTRY = "codeio_replay_entry"
REPLAY_BATCH_ENTRY = "codeio_replay_batch_entry"
SAMPLE_BATCH_ENTRY = "codeio_sample_batch_entry"

_CHILD_SOURCE = r'''

import inspect as _inspect
import io as _io
import json as _json
import random as _random
import re as _re
import signal as _signal
import sys as _sys
import threading as _threading
import time as _time
import types as _types

_MSG_CHARS = 200
# A function that hangs on a few inputs usually hangs on most: stop instead of burning the budget.
_MAX_CALL_TIMEOUTS = 3
# A generator that has not returned one dict in this many calls is broken (a NameError, a bad
# signature), not unlucky: the rest of its tries would fail the same way.
_GENERATOR_GIVE_UP = 100
# A function that has fewer than min_pairs pairs at its soft budget may use this many soft
# budgets in all to reach them, when its pace says it will.
_SLOW_FACTOR = 2


class _CallTimeout(BaseException):
    """Raised by the per-call alarm; a BaseException so ``except Exception`` in user code
    does not swallow it."""


class _NullWriter(_io.TextIOBase):
    """Discards prints: untrusted chatter would otherwise fill the task's output cap."""

    def write(self, text):
        return len(text)


def _on_alarm(signum, frame):
    raise _CallTimeout()


# Phases are timed in wall seconds: what a lane spends on them (a forked child's CPU clock
# is too coarse here to split a few milliseconds).
_clock = _time.perf_counter


# Patterns, compiled on first use (in the few tasks whose code mentions "random").
_NUMPY_ALIAS = r"^[ \t]*import[ \t]+numpy[ \t]+as[ \t]+(\w+)"
_FROM_NUMPY_RANDOM = r"from[ \t]+numpy[ \t]+import[^\n]*\brandom\b"


def _reaches_numpy_random(texts):
    """Whether the code can use numpy's global RNG: it is loaded already (by an import of the
    code's), or the code names it. numpy 2 imports ``numpy.random`` lazily, on first use, at
    15-70 ms; seeding it for code that never touches it would be most of a fast function's
    task. Code that reaches it some other way gets an unseeded RNG, which the determinism
    check drops, never a wrong pair."""
    if "numpy.random" in _sys.modules:
        return True
    texts = [text for text in texts if "random" in text]
    if not texts:
        return False
    names = {"np", "numpy"}
    for text in texts:
        names.update(_re.findall(_NUMPY_ALIAS, text, _re.MULTILINE))
    for text in texts:
        if _re.search(_FROM_NUMPY_RANDOM, text) or any(name + ".random" in text for name in names):
            return True
    return False


def _seed_globals(seed, texts=()):
    _random.seed(seed)
    numpy = _sys.modules.get("numpy")
    if numpy is not None and _reaches_numpy_random(texts):
        try:
            numpy.random.seed(seed % (2**32))
        except Exception:
            pass


def _takes_rng(gen):
    try:
        params = _inspect.signature(gen).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (_inspect.Parameter.POSITIONAL_ONLY, _inspect.Parameter.POSITIONAL_OR_KEYWORD,
                  _inspect.Parameter.VAR_POSITIONAL)
    return any(p.kind in positional for p in params)


def _describe(exc):
    return (type(exc).__name__ + ": " + str(exc))[:_MSG_CHARS]


class _Timer:
    """A per-call wall-clock alarm (main thread only; the task limit still bounds the rest)."""

    def __init__(self, seconds):
        self.seconds = seconds if _threading.current_thread() is _threading.main_thread() else 0
        self.previous = None
        self.seconds_left = None
        """When set, no call's alarm goes past this many seconds (the function's budget)."""
        self.cut_by_budget = False
        """Whether the last call's alarm was the budget's rather than its own timeout."""
        self.last_seconds = seconds
        """The last call's alarm, in seconds."""

    def exceeded(self, what):
        if self.cut_by_budget:
            share = format(self.last_seconds, ".3g")
            return what + " exceeded its share of the function's time budget (" + share + " s)"
        return what + " exceeded " + str(self.seconds) + " s"

    def __enter__(self):
        if self.seconds:
            self.previous = _signal.signal(_signal.SIGALRM, _on_alarm)
        return self

    def call(self, fn, *args, **kwargs):
        if not self.seconds:
            return fn(*args, **kwargs)
        seconds = self.seconds
        if self.seconds_left is not None:
            seconds = max(0.001, min(seconds, self.seconds_left))
        self.cut_by_budget = seconds < self.seconds
        self.last_seconds = seconds
        _signal.setitimer(_signal.ITIMER_REAL, seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            _signal.setitimer(_signal.ITIMER_REAL, 0)

    def __exit__(self, *exc):
        if self.seconds:
            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _signal.signal(_signal.SIGALRM, self.previous or _signal.SIG_DFL)
        return False


class _Muted:
    def __enter__(self):
        self.saved = (_sys.stdout, _sys.stderr)
        _sys.stdout = _sys.stderr = _NullWriter()
        return self

    def __exit__(self, *exc):
        _sys.stdout, _sys.stderr = self.saved
        return False


def _bump(table, key):
    table[key] = table.get(key, 0) + 1


def _compile(source, filename):
    return compile(source, "<" + filename + ">", "exec")


_PRELUDES = {}


def _compile_prelude(prelude):
    """The prelude's code object, compiled once per task (a batch shares one or two)."""
    if not prelude:
        return None
    code = _PRELUDES.get(prelude)
    if code is None:
        code = _PRELUDES[prelude] = _compile(prelude, "prelude")
    return code


def _load_compiled(prelude_code, code, filename, symbol):
    # A real module in sys.modules, so dataclasses, pickle and typing.get_type_hints resolve
    # names; __name__ is not "__main__", so demo blocks do not run. The code objects are
    # compiled once per task: executing them again in a new module is a fresh module.
    name = "codeio_" + filename
    module = _types.ModuleType(name)
    _sys.modules[name] = module
    if prelude_code is not None:
        exec(prelude_code, module.__dict__)
    exec(code, module.__dict__)
    fn = module.__dict__.get(symbol)
    if not callable(fn):
        raise NameError(filename + " defines no callable " + repr(symbol))
    return fn


def _input_key(generated):
    """(canonical key, stored snapshot) of a generated input; raises when it is not JSON."""
    try:
        key = _json.dumps(generated, sort_keys=True, allow_nan=True)
    except TypeError:
        # Mixed int/str keys cannot be sorted before JSON turns them all into strings.
        key = None
    snapshot = _json.loads(_json.dumps(generated, allow_nan=True))
    if key is None:
        key = _json.dumps(snapshot, sort_keys=True, allow_nan=True)
    return key, snapshot


def _budget_cut(stats, enough):
    # A call cut by the function's budget rather than its own timeout: with min_pairs the
    # function stops with what it has (slow); short of them, the call used its whole share of
    # the time left, so at this pace the missing pairs cannot end in time (too slow, not a hang).
    if enough:
        stats["stopped_slow"] = True
    else:
        stats["budget_exhausted"] = True


def codeio_sample_entry(refcode, inputgen, funcname, seed, pairs, tries, budget_s,
                        call_timeout_s, limits, prelude="", soft_budget_s=None, min_pairs=1,
                        max_call_timeouts=_MAX_CALL_TIMEOUTS):
    started = _time.monotonic()
    clock_at_entry = _clock()
    # The budget scales with the function's own pace (see _SLOW_FACTOR): pairs are added
    # while the next one fits in the soft budget; a function without min_pairs by then goes on
    # only while its pace says they come within _SLOW_FACTOR soft budgets; nothing runs past
    # budget_s, the hard cap.
    if soft_budget_s:
        deadline = started + min(budget_s, _SLOW_FACTOR * soft_budget_s)
        soft_deadline = started + soft_budget_s
    else:
        deadline = soft_deadline = started + budget_s
    size_limits = SizeLimits(**limits)
    stats = {
        "tries": 0, "generator_errors": {}, "main_errors": {}, "not_dict": 0,
        "input_not_json": 0, "output_not_json": 0, "input_too_big": 0, "output_too_big": 0,
        "duplicates": 0, "call_timeouts": 0, "budget_exhausted": False, "stopped_slow": False,
        "examples": {},
    }
    examples = stats["examples"]

    def note(kind, text):
        examples.setdefault(kind, text[:_MSG_CHARS])

    kept = []
    pair_s = []  # the main_solution call of each kept pair, in seconds
    gen_s = main_s = 0.0
    with _Muted(), _Timer(call_timeout_s) as timer:
        try:
            prelude_code = _compile_prelude(prelude)
            main = _load_compiled(prelude_code, _compile(refcode, "refcode"), "refcode", funcname)
        except BaseException as exc:
            return {"pairs": [], "stats": stats, "setup_error": {"where": "refcode", "error": _describe(exc)}}
        try:
            gen = _load_compiled(prelude_code, _compile(inputgen, "inputgen"), "inputgen",
                                 "input_generator")
        except BaseException as exc:
            return {"pairs": [], "stats": stats, "setup_error": {"where": "inputgen", "error": _describe(exc)}}
        # Everything random is a function of the seed: the rng argument, and the global RNGs
        # (for zero-argument generators and for code that draws from them).
        rng = _random.Random(seed)
        _seed_globals(seed + 1, (refcode, inputgen))
        use_rng = _takes_rng(gen)
        seen = set()
        generated_ok = 0
        clock_loop = _clock()
        loop_started = _time.monotonic()
        for _ in range(tries):
            if len(kept) >= pairs:
                break
            now = _time.monotonic()
            if now >= deadline:
                stats["budget_exhausted"] = True
                break
            if len(kept) >= min_pairs:
                # The next pair, at this function's pace, must end within the soft budget: a
                # slow function stops with the pairs it has instead of holding the lane.
                if now + (now - loop_started) / len(kept) > soft_deadline:
                    stats["stopped_slow"] = True
                    break
            elif now > soft_deadline:
                # Past the soft budget without enough pairs: go on only while the function's
                # own pace says the missing ones end before the deadline (no pair yet: no pace).
                missing = min_pairs - len(kept)
                if not kept or now + missing * (now - loop_started) / len(kept) > deadline:
                    stats["budget_exhausted"] = True
                    break
            if stats["call_timeouts"] >= max_call_timeouts:
                break
            if not generated_ok and stats["tries"] >= _GENERATOR_GIVE_UP:
                break
            stats["tries"] += 1
            # No call may run past the hard budget, whatever its own timeout; with min_pairs
            # kept, none past the soft one either (the function stops there anyway). Short of
            # min_pairs, a call may take its share of the time left: one that runs longer
            # means the missing pairs cannot all end by the deadline at this pace.
            if len(kept) >= min_pairs:
                cut_at = soft_deadline
            else:
                cut_at = now + (deadline - now) / (min_pairs - len(kept))
            timer.seconds_left = cut_at - now
            before = _clock()
            try:
                generated = timer.call(gen, rng) if use_rng else timer.call(gen)
            except _CallTimeout:
                if timer.cut_by_budget:
                    _budget_cut(stats, len(kept) >= min_pairs)
                    note("generator_timeout", timer.exceeded("input_generator"))
                    break
                stats["call_timeouts"] += 1
                note("generator_timeout", timer.exceeded("input_generator"))
                continue
            except BaseException as exc:
                _bump(stats["generator_errors"], type(exc).__name__)
                note("generator_error", _describe(exc))
                continue
            finally:
                gen_s += _clock() - before
            if not isinstance(generated, dict):
                stats["not_dict"] += 1
                note("not_dict", "input_generator returned " + type(generated).__name__)
                continue
            generated_ok += 1
            try:
                # The snapshot is what gets stored; taking it before the call means a function
                # that mutates its arguments cannot change the recorded input.
                key, snapshot = _input_key(generated)
            except BaseException as exc:
                stats["input_not_json"] += 1
                note("input_not_json", _describe(exc))
                continue
            if key in seen:
                # A known input is never run again: its pair is already kept or rejected.
                stats["duplicates"] += 1
                continue
            seen.add(key)
            why = size_violation(snapshot, size_limits)
            if why is not None:
                stats["input_too_big"] += 1
                note("input_too_big", why)
                continue
            timer.seconds_left = cut_at - _time.monotonic()
            before = _clock()
            try:
                output = timer.call(main, **generated)
            except _CallTimeout:
                if timer.cut_by_budget:
                    _budget_cut(stats, len(kept) >= min_pairs)
                    note("main_timeout", timer.exceeded(funcname))
                    break
                stats["call_timeouts"] += 1
                note("main_timeout", timer.exceeded(funcname))
                continue
            except BaseException as exc:
                _bump(stats["main_errors"], type(exc).__name__)
                note("main_error", _describe(exc))
                continue
            finally:
                took = _clock() - before
                main_s += took
            try:
                stored_output = _json.loads(_json.dumps(output, allow_nan=True))
            except BaseException as exc:
                stats["output_not_json"] += 1
                note("output_not_json", _describe(exc))
                continue
            why = size_violation(stored_output, size_limits)
            if why is not None:
                stats["output_too_big"] += 1
                note("output_too_big", why)
                continue
            kept.append({"input": snapshot, "output": stored_output})
            pair_s.append(round(took, 5))
    end = _clock()
    stats["phases_s"] = {
        "load": round(clock_loop - clock_at_entry, 5),
        "generator": round(gen_s, 5),
        "main": round(main_s, 5),
        "checks": round(max(0.0, end - clock_loop - gen_s - main_s), 5),
    }
    stats["elapsed_s"] = round(_time.monotonic() - started, 4)
    stats["pair_s"] = pair_s
    return {"pairs": kept, "stats": stats, "setup_error": None}


def _canonical(value):
    """The host's canonical JSON (codeio.ids.canonical_json), to compare with an expected output."""
    return _json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                       allow_nan=True)


def _close(a, b, tol):
    """The host's ``outputs_equal`` with a float tolerance (a copy: codeio is not importable
    inside the sandbox): floats within ``tol`` (relative), everything else equal in type and
    value, containers in shape and keys."""
    if type(a) is float and type(b) is float:
        if a != a or b != b:
            return a != a and b != b
        if a == b or abs(a) == float("inf") or abs(b) == float("inf"):
            return a == b
        return abs(a - b) <= tol * max(abs(a), abs(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    return type(a) is type(b) and a == b


def _differs(result, expected_text, rel_tol):
    if result["status"] != "ok":
        return True
    if _canonical(result["output"]) == expected_text:
        return False
    return rel_tol <= 0 or not _close(_json.loads(expected_text), result["output"], rel_tol)


def _replay_one(refcode, funcname, inputs, seed, call_timeout_s, prelude_code, timer,
                expected=None, order=None, max_timeouts=None, rel_tol=0.0):
    """``expected``: the stored outputs as canonical JSON; given, the re-run stops at the first
    pair that differs (the function is dropped whatever the rest give) and marks the others
    ``skipped``. ``order``: the order to run the pairs in (cheapest first finds a difference
    soonest; ``rel_tol``: how far a float may be from its expected value and still match).
    ``max_timeouts``: after that many calls timed out, the pairs not yet run are
    ``skipped`` (run in ascending cost, the later ones would time out too, each costing a
    whole call timeout)."""
    clock_at_entry = _clock()
    load_s = main_s = 0.0
    count = len(inputs)
    results = [None] * count
    if order is None or sorted(order) != list(range(count)):
        order = range(count)
    if expected is not None and len(expected) != count:
        expected = None
    try:
        code = _compile(refcode, "refcode")
    except BaseException as exc:
        return {"results": [], "setup_error": {"where": "refcode", "error": _describe(exc)}}
    _seed_globals(seed, (refcode,))
    differed = False
    timeouts = 0
    for index in order:
        if differed:
            results[index] = {"status": "skipped", "error": "not re-run: an earlier pair differed"}
            continue
        if max_timeouts is not None and timeouts >= max_timeouts:
            results[index] = {"status": "skipped",
                              "error": "not re-run: " + str(timeouts) + " cheaper pairs timed out"}
            continue
        # A fresh module per pair, as a verifier or a user would run it: an output that
        # depends on state left by earlier calls (a global memo, a counter) must show here.
        before = _clock()
        try:
            main = _load_compiled(prelude_code, code, "refcode", funcname)
        except BaseException as exc:
            return {"results": [], "setup_error": {"where": "refcode", "error": _describe(exc)}}
        load_s += _clock() - before
        kwargs = _json.loads(inputs[index])  # a fresh copy per call, decoded exactly as stored
        before = _clock()
        try:
            output = timer.call(main, **kwargs)
        except _CallTimeout:
            result = {"status": "timeout", "error": "exceeded " + str(call_timeout_s) + " s"}
            timeouts += 1
        except BaseException as exc:
            result = {"status": "error", "error": _describe(exc)}
        else:
            try:
                result = {"status": "ok", "output": _json.loads(_json.dumps(output, allow_nan=True))}
            except BaseException as exc:
                result = {"status": "not_json", "error": _describe(exc)}
        finally:
            main_s += _clock() - before
        results[index] = result
        if expected is not None:
            try:
                differed = _differs(result, expected[index], rel_tol)
            except BaseException:
                differed = True
    phases = {"load": round(load_s, 5), "main": round(main_s, 5)}
    phases["rest"] = round(max(0.0, _clock() - clock_at_entry - load_s - main_s), 5)
    return {"results": results, "setup_error": None, "phases_s": phases}


def codeio_replay_entry(refcode, funcname, inputs, seed, call_timeout_s, prelude="", expected=None,
                        order=None, max_timeouts=None, rel_tol=0.0):
    with _Muted(), _Timer(call_timeout_s) as timer:
        try:
            prelude_code = _compile_prelude(prelude)
        except BaseException as exc:
            return {"results": [], "setup_error": {"where": "refcode", "error": _describe(exc)}}
        return _replay_one(refcode, funcname, inputs, seed, call_timeout_s, prelude_code, timer,
                           expected, order, max_timeouts, rel_tol)


class _ProcessState:
    """The process-wide settings a function may change and another would see: put back
    between the functions of one batch, so that each replays as in a process of its own."""

    def __init__(self):
        import builtins, os
        self.builtins = dict(builtins.__dict__)
        self.cwd = os.getcwd()
        self.recursion = _sys.getrecursionlimit()
        self.environ = dict(os.environ)
        numpy = _sys.modules.get("numpy")
        self.np_err = numpy.geterr() if numpy is not None else None
        self.np_print = numpy.get_printoptions() if numpy is not None else None
        # What the task dir (the cwd, $HOME, $TMPDIR) held before: a file one function writes
        # must not be there for the next.
        self.files = set(os.listdir(self.cwd))

    def restore(self):
        import builtins, os
        if builtins.__dict__ != self.builtins:
            builtins.__dict__.clear()
            builtins.__dict__.update(self.builtins)
        if os.getcwd() != self.cwd:
            os.chdir(self.cwd)
        for name in set(os.listdir(self.cwd)) - self.files:
            path = os.path.join(self.cwd, name)
            if os.path.isdir(path) and not os.path.islink(path):
                import shutil
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        _sys.setrecursionlimit(self.recursion)
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        decimal = _sys.modules.get("decimal")
        if decimal is not None:
            decimal.setcontext(decimal.Context())
        numpy = _sys.modules.get("numpy")
        if numpy is not None and self.np_err is not None:
            numpy.seterr(**self.np_err)
            numpy.set_printoptions(**self.np_print)


def codeio_replay_batch_entry(functions, call_timeout_s, prelude=""):
    """Replays of several functions in one process: ``functions`` is a list of
    ``{"refcode", "funcname", "inputs", "seed"}`` (optionally ``"expected"``, ``"order"``,
    ``"max_timeouts"`` and ``"rel_tol"``);
    one ``codeio_replay_entry`` result each."""
    out = []
    with _Muted(), _Timer(call_timeout_s) as timer:
        try:
            prelude_code = _compile_prelude(prelude)
        except BaseException as exc:
            error = {"where": "refcode", "error": _describe(exc)}
            return [{"results": [], "setup_error": error} for _ in functions]
        state = _ProcessState()
        for item in functions:
            try:
                out.append(_replay_one(item["refcode"], item["funcname"], item["inputs"],
                                       item["seed"], call_timeout_s, prelude_code, timer,
                                       item.get("expected"), item.get("order"),
                                       item.get("max_timeouts"), item.get("rel_tol", 0.0)))
            finally:
                state.restore()
    return out


def codeio_sample_batch_entry(functions, pairs, tries, budget_s, call_timeout_s, limits,
                              soft_budget_s=None, min_pairs=1, slice_s=0.0):
    """Sampling of several functions in one process, in order: ``functions`` is a list of
    ``{"refcode", "inputgen", "funcname", "seed", "prelude"}``; one ``codeio_sample_entry``
    result each, for a prefix of them: no function starts once ``slice_s`` seconds have passed
    (the first always does), and the host samples the rest in later tasks. Process-wide
    settings and the task dir are put back between functions, as in a replay batch."""
    out = []
    started = _time.monotonic()
    state = _ProcessState()
    for item in functions:
        if out and _time.monotonic() - started >= slice_s:
            break
        try:
            out.append(codeio_sample_entry(
                item["refcode"], item["inputgen"], item["funcname"], item["seed"], pairs, tries,
                budget_s, call_timeout_s, limits, item["prelude"], soft_budget_s, min_pairs))
        finally:
            state.restore()
    return out
'''


_NUMPY_IMPORT = "import numpy as np\n"
_NAMES_NUMPY = re.compile(r"\b(?:np|numpy)\b")


def prelude_for(prelude: str, *texts: str) -> str:
    """``prelude`` without its numpy import when none of ``texts`` can use it.

    The prelude binds ``np`` for code that uses it without importing; code that never names
    ``np`` or ``numpy`` cannot reach that name, and without it the task forks from the smaller
    base template (no numpy template to start, a cheaper fork and exit). A name the scan
    misses (built at run time) fails loudly as a NameError, never as a wrong pair.
    """
    if _NUMPY_IMPORT not in prelude or any(_NAMES_NUMPY.search(text) for text in texts):
        return prelude
    return prelude.replace(_NUMPY_IMPORT, "", 1)


@functools.cache
def harness_source() -> str:
    """The full child source: the size checks, then the two entries."""
    # Reading sizes.py's own source keeps one definition of the limits for both sides.
    return inspect.getsource(sizes) + _CHILD_SOURCE


_BOOTSTRAP = """\
import sys as _codeio_sys
if _codeio_sys.hexversion != {hexversion} or _codeio_sys.implementation.cache_tag != {tag!r}:
    raise ImportError("codeio's sampling harness is bytecode for {version}; this is " + _codeio_sys.version)
import binascii as _codeio_binascii, marshal as _codeio_marshal
exec(_codeio_marshal.loads(_codeio_binascii.a2b_base64({blob!r})), globals())
"""


@functools.cache
def harness_code() -> str:
    """The task code: the harness as bytecode compiled once here.

    Compiling the ~13 KB harness costs 15-30 ms, more than a fork, a generator loop and a replay
    of a typical function together; every sampling and replay task would pay it in its child.
    The workers run this same interpreter (``sys.executable``), so the marshalled code object is
    valid there; another interpreter gets a clear ImportError rather than undefined behaviour.
    Docstrings are stripped (optimize=2): the code is smaller to send, decode and load.
    """
    code = compile(harness_source(), "<codeio-harness>", "exec", optimize=2)
    return _BOOTSTRAP.format(
        hexversion=sys.hexversion,
        tag=sys.implementation.cache_tag,
        version=sys.version.split()[0],
        blob=base64.b64encode(marshal.dumps(code)).decode("ascii"),
    )
