"""RunConfig loading: files, overrides, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeio.config import load_config
from codeio.errors import ConfigError


def test_yaml_and_toml_with_overrides(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("seed: 3\ninput:\n  path: data.jsonl\nrevise:\n  rounds: 2\n")
    cfg = load_config(y, ["llm.spec=openai:m", "runner.batch_size=32", "prompt.kinds=[output]"])
    assert cfg.seed == 3 and cfg.revise.rounds == 2 and cfg.llm.spec == "openai:m"
    assert cfg.runner.batch_size == 32 and cfg.prompt.kinds == ["output"]
    # a relative input path is relative to the config file
    assert cfg.input.path == [str(tmp_path / "data.jsonl")]
    t = tmp_path / "c.toml"
    t.write_text('seed = 5\n[llm]\nspec = "trace"\n[llm.options]\nmistake_rate = 0.5\n')
    cfg = load_config(t)
    assert cfg.seed == 5 and cfg.llm.options == {"mistake_rate": 0.5}


@pytest.mark.parametrize(
    ("text", "overrides", "needle"),
    [
        ("revise:\n  roundz: 2\n", [], "revise.roundz: unknown key"),
        ("runner:\n  batch_size: -1\n", [], "runner.batch_size"),
        ("input:\n  kind: weird\n", [], "input.kind"),
        ("", ["sample.pairs=many"], "sample.pairs"),
        ("", ["llm.prices.inptu=1"], "prices"),
        ("- a\n- b\n", [], "top level must be a mapping"),
        ("seed: [unclosed\n", [], "cannot parse"),
        ("", ["noequals"], "key.sub=value"),
    ],
)
def test_bad_config_names_the_key(
    tmp_path: Path, text: str, overrides: list[str], needle: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert needle in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_every_cli_export_format_is_a_config_export_format() -> None:
    """`export.format` in a run config takes what `codeio export --format` takes."""
    from codeio.pipeline.export.run import FORMATS

    for fmt in FORMATS:
        assert load_config(None, [f"export.format={fmt}"]).export.format == fmt
