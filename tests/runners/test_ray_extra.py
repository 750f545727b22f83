"""The Ray runner is an optional extra: codeio imports without ray and says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# ``sys.modules["ray"] = None`` makes ``import ray`` fail as if the extra were not installed.
_WITHOUT_RAY = textwrap.dedent(
    """
    import sys
    sys.modules["ray"] = None
    import codeio.runners.ray as mod
    from codeio.pipeline.pipeline import Pipeline
    from codeio.errors import MissingExtraError
    from codeio.runners import make_runner
    assert "ray" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
    for make in (lambda: mod.RayRunner(), lambda: make_runner("ray", address="auto")):
        try:
            make()
        except MissingExtraError as exc:
            assert exc.extra == "ray" and "codeio[ray]" in str(exc), exc
        else:
            raise AssertionError("no MissingExtraError")
    print("ok")
    """
)


def test_without_ray_installed_the_runner_names_the_extra() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_RAY], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_config_selects_the_ray_runner_and_its_address() -> None:
    from codeio.config import load_config
    from codeio.runners import make_runner

    cfg = load_config(None, ["runner.kind=ray", "runner.address=ray://head:10001"])
    runner = make_runner(cfg.runner.kind, address=cfg.runner.address)
    try:
        assert runner.name == "ray"
        assert runner.address == "ray://head:10001"  # type: ignore[attr-defined]
    finally:
        runner.close()  # never connected: nothing to shut down


def test_cli_runner_flag_reaches_the_pipeline(tmp_path: Path) -> None:
    from codeio.demo_data import demo_dir

    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"input:\n  path: [{demo_dir()}]\n", encoding="utf-8")
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from codeio.cli.main import main\n"
        f"sys.argv = ['codeio', 'run', {str(cfg)!r}, '--out', {str(tmp_path / 'run')!r},"
        " '--runner', 'ray', '--address', 'auto']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    # The flag chose the Ray runner (which then named its missing extra, markup intact).
    assert "the Ray runner needs" in proc.stderr and "codeio[ray]" in proc.stderr
