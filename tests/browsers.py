"""What the browser tests dress Chromium as (shared by conftest.py and the test modules: import it from
here, not from conftest, which pytest-xdist may resolve to another folder's conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from portal.demo import DEMO_PASSWORD

IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148")

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

# Playwright's own default is 30 s per action; a busy 2-core CI machine (or the CPU hog of
# bench/stress_captive.sh) can stall a gunicorn worker longer than that, and a test must not depend on
# machine speed. Every context the session browser opens gets this instead.
BROWSER_TIMEOUT_MS = 120_000


def write_y4m(path: Path, luma: np.ndarray, frames: int = 2) -> Path:
    """A grey still (uint8 luma, even width and height) as a Y4M video, what Chromium's fake camera plays
    (`--use-file-for-fake-video-capture`, looped): 4:2:0, chroma neutral."""
    height, width = luma.shape
    chroma = np.full((height // 2) * (width // 2), 128, dtype=np.uint8).tobytes()
    frame = b"FRAME\n" + luma.astype(np.uint8).tobytes() + chroma + chroma
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path


@contextmanager
def fake_camera_browser(browser, video: Path) -> Iterator:
    """A second Chromium, from the session browser's Playwright, whose camera shows `video` and whose
    camera prompt is accepted: for the one test that scans a code with the camera; closed after it."""
    from portal.tools.ensure_chromium import find_chromium

    camera = browser.browser_type.launch(executable_path=find_chromium(), headless=True, args=[
        *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        yield camera
    finally:
        camera.close()


def console_sign_in(page, base: str, username: str, password: str = DEMO_PASSWORD, lands: str | None = None) -> None:
    """Sign in to the console as a person does (the demo accounts' password unless told otherwise), and
    wait until the sign-in page has been left, so the session cookie is set before the test's next `goto`
    (a `goto` right after the click can abort the form's navigation). `lands`: the path it must land on."""
    if "/console/login" not in page.url:
        page.goto(base + "/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/console/login" not in url)
    if lands is not None:
        page.wait_for_url(base + lands)
