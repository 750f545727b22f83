"""What a task sees and what comes back: entry calls, values, fresh state, seeds."""

from __future__ import annotations

import math
import threading

from codeio.exec import ExecLimits, ExecTask, Sandbox, Status, run_untrusted


def test_entry_return_value_and_name(sandbox: Sandbox) -> None:
    code = "def f(a, b):\n    return {'sum': a + b, 'name': __name__}\n"
    result = sandbox.run(code, "f", {"a": 2, "b": [3][0]})
    assert result.status is Status.OK
    assert result.value["sum"] == 5
    assert result.value["name"] != "__main__"


def test_script_runs_as_main_and_captures_output(sandbox: Sandbox) -> None:
    code = "import sys\nif __name__ == '__main__':\n    print('out')\n    print('err', file=sys.stderr)\n"
    result = sandbox.run(code)
    assert result.status is Status.OK
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert result.value is None


def test_demo_block_does_not_run_with_entry(sandbox: Sandbox) -> None:
    code = "def f():\n    return 1\nif __name__ == '__main__':\n    raise SystemExit('demo ran')\n"
    assert sandbox.run(code, "f").value == 1


def test_nan_and_inf_values_allowed(sandbox: Sandbox) -> None:
    result = sandbox.run("def f():\n    return [float('nan'), float('inf')]\n", "f")
    assert result.status is Status.OK
    assert math.isnan(result.value[0]) and result.value[1] == math.inf


def test_unserializable_value_is_an_error(sandbox: Sandbox) -> None:
    result = sandbox.run("def f():\n    return {1, 2}\n", "f")
    assert result.status is Status.ERROR
    assert result.error_type == "ResultNotSerializable"


def test_exception_gives_type_message_and_traceback_tail(sandbox: Sandbox) -> None:
    result = sandbox.run("def f(x):\n    return 1 / x\n", "f", {"x": 0})
    assert result.status is Status.ERROR
    assert result.error_type == "ZeroDivisionError"
    assert "division by zero" in (result.error_message or "")
    assert "main.py" in (result.traceback or "") and "child.py" not in (result.traceback or "")
    assert "return 1 / x" in (result.traceback or "")  # the code's own lines are shown


def test_missing_entry_and_syntax_error(sandbox: Sandbox) -> None:
    assert sandbox.run("x = 1", "nope").error_type == "EntryNotFound"
    assert sandbox.run("def (:").error_type == "SyntaxError"


def test_sys_exit_zero_is_ok_nonzero_is_error(sandbox: Sandbox) -> None:
    assert sandbox.run("import sys; sys.exit(0)").status is Status.OK
    assert sandbox.run("import sys; sys.exit(3)").status is Status.ERROR


def test_no_state_leaks_between_tasks(sandbox: Sandbox) -> None:
    for _ in range(2):  # each worker's template stays untouched
        sandbox.run("import math\nmath.pi = 3\nopen('left.txt', 'w').write('x')\n")
    code = "import math, os\ndef f():\n    return [math.pi, os.listdir('.')]\n"
    for _ in range(4):
        assert sandbox.run(code, "f").value == [math.pi, []]


def test_cwd_is_a_writable_temp_dir(sandbox: Sandbox) -> None:
    code = "import os, tempfile\ndef f():\n    open('a.txt', 'w').write('hi')\n    tempfile.mkstemp()\n    return [open('a.txt').read(), os.environ['HOME'] == os.getcwd()]\n"
    assert sandbox.run(code, "f").value == ["hi", True]


def test_rngs_are_reseeded_per_task(sandbox: Sandbox) -> None:
    code = (
        "import random, numpy\ndef f():\n    return [random.random(), float(numpy.random.rand())]\n"
    )
    values = [sandbox.run(code, "f").value for _ in range(4)]
    assert len({v[0] for v in values}) == 4
    assert len({v[1] for v in values}) == 4


def test_hash_seed_sets_string_hash_order() -> None:
    code = "def f():\n    return [hash('codeio'), list({'a', 'b', 'c', 'd', 'e', 'f'})]\n"
    seeds = {}
    for seed in (1, 2):
        with Sandbox(workers=1, hash_seed=seed) as sb:
            seeds[seed] = [sb.run(code, "f").value for _ in range(2)]
    assert seeds[1][0] == seeds[1][1]  # stable within one hash seed
    assert seeds[1][0][0] != seeds[2][0][0]


def test_environment_is_scrubbed(sandbox: Sandbox) -> None:
    env = sandbox.run("import os\ndef f():\n    return dict(os.environ)\n", "f").value
    assert "CODEIO_TEST_API_KEY" not in env
    assert set(env) <= {"PATH", "LANG", "PYTHONHASHSEED", "HOME", "TMPDIR", "PWD"}


def test_map_is_ordered_and_imap_unordered_covers_all(sandbox: Sandbox) -> None:
    tasks = [
        ExecTask(code="def f(i):\n    return i * i\n", entry="f", kwargs={"i": i})
        for i in range(20)
    ]
    assert [r.value for r in sandbox.map(tasks)] == [i * i for i in range(20)]
    pairs = list(sandbox.imap_unordered(iter(tasks)))
    assert sorted(i for i, _ in pairs) == list(range(20))
    assert all(r.value == i * i for i, r in pairs)


def test_per_task_limits_override(sandbox: Sandbox) -> None:
    tasks = [
        ExecTask(code="import time\ntime.sleep(0.5)\n", limits=ExecLimits(timeout_s=0.2)),
        ExecTask(code="x = 1"),
    ]
    assert [r.status for r in sandbox.map(tasks)] == [Status.TIMEOUT, Status.OK]


def test_concurrent_run_from_threads(sandbox: Sandbox) -> None:
    failures: list[str] = []

    def client(k: int) -> None:
        for i in range(10):
            r = sandbox.run("def f(k, i):\n    return [k, i]\n", "f", {"k": k, "i": i})
            if r.value != [k, i]:
                failures.append(f"{k},{i}: {r}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_run_untrusted_one_shot() -> None:
    assert run_untrusted("def f(x):\n    return x + 1\n", "f", {"x": 1}).value == 2


def test_forked_copy_of_the_task_does_not_report(sandbox: Sandbox) -> None:
    # Both processes fall through to the harness; only the task's own result counts.
    code = "import os\ndef f():\n    os.fork()\n    return 'one answer'\n"
    result = sandbox.run(code, "f")
    assert (result.status, result.value) == (Status.OK, "one answer")


def test_locked_task_dir_is_restored_for_the_next_task(sandbox: Sandbox) -> None:
    for _ in range(2):
        sandbox.run("import os\nos.chmod('.', 0)\n")
    code = "def f():\n    open('ok', 'w').write('1')\n    return 1\n"
    assert all(sandbox.run(code, "f").value == 1 for _ in range(4))
