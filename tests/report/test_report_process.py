"""The report's process section: counts per turn and escaped, highlighted contradicted claims."""

from __future__ import annotations

from pathlib import Path

from codeio.records import ClaimCheck, ProcessVerdict, Sample, Turn, Verdict
from codeio.report import build_report

RESPONSE = "<script>alert(1)</script> so x = 5 and y = 2."


def _sample(status: str, with_bad: bool) -> Sample:
    start = RESPONSE.index("x = 5")
    bad = ClaimCheck(
        kind="value",
        claim="so x = 5",
        span=(start, start + 5),
        name="x",
        claimed="5",
        actual="<b>4</b>",
        status="contradicted",
    )
    ok = ClaimCheck(
        kind="value",
        claim="y = 2",
        span=(start + 10, start + 15),
        name="y",
        claimed="2",
        actual="2",
        status="supported",
    )
    process = ProcessVerdict(
        supported=1,
        contradicted=int(with_bad),
        first_contradiction=bad if with_bad else None,
        claims=[bad, ok] if with_bad else [ok],
    )
    verdict = Verdict(status=status, feedback="fb", process=process)  # type: ignore[arg-type]
    return Sample(
        task_id=f"t-{status}-{with_bad}",
        func_id="f",
        kind="output",
        prompt="p",
        turns=[Turn(response=RESPONSE, verdict=verdict)],
    )


def test_process_section(tmp_path: Path) -> None:
    samples = [_sample("correct", True), _sample("wrong", True), _sample("correct", False)]
    html = build_report({"stages": []}, samples, [], tmp_path / "r.html").read_text()
    section = html[html.index('id="process"') :]
    assert "right answer, wrong steps" in section
    # turn 1: 3 checked, 2 with contradicted steps, 1 of them with a correct answer
    assert "<td>turn 1</td><td>3</td><td>2</td><td>1</td>" in section
    assert '<mark class="bad" title="trace shows &lt;b&gt;4&lt;/b&gt;">x = 5</mark>' in section
    assert "<script>" not in html and "&lt;script&gt;" in section
    assert "supported" in section and "unverifiable" in section


def test_no_section_without_process_verdicts(tmp_path: Path) -> None:
    plain = Sample(
        task_id="t",
        func_id="f",
        kind="output",
        prompt="p",
        turns=[Turn(response="r", verdict=Verdict(status="correct", feedback="f"))],
    )
    html = build_report({"stages": []}, [plain], [], tmp_path / "r.html").read_text()
    assert 'id="process"' not in html
