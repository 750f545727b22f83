"""Screenshots of every ``codeio view`` page for docs/VIEW.md, taken by headless Chromium.

    .venv/bin/codeio demo --out /tmp/viewer-demo
    .venv/bin/python scripts/view_screenshots.py /tmp/viewer-demo docs/img

Needs Debian's ``chromium`` and the ``playwright`` package (dev extra); never downloads a browser.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _shrink(path: Path) -> None:
    """A 128-colour palette PNG: a third of the bytes, no visible change for flat UI pages."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(run_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "codeio", "view", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        m = re.search(r"codeio view: (http://\S+)/", line)
        if m:
            url = m.group(1)
            break
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 760})

            def shot(name: str, height: int = 760) -> None:
                page.set_viewport_size({"width": 1200, "height": height})
                path = out / f"view-{name}.png"
                page.screenshot(path=str(path))
                _shrink(path)
                print(path)

            page.goto(url + "/")
            shot("funnel", 520)
            page.click("a.reason >> nth=0")
            shot("failures", 420)
            page.goto(url + "/samples?kind=output&v1=wrong")
            shot("samples", 560)
            page.click("a.sample-link >> nth=0")
            page.click("details.diff-box summary")
            shot("sample", 1500)
            page.click("a[href^='/function/'] >> nth=0")
            shot("function", 900)
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
