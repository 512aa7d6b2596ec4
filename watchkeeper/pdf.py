"""Printing a page to PDF with headless Chromium (Debian's ``chromium``): the browser the console's
tests already drive, so a report's PDF is what a person printing the page would get."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def print_to_pdf(page: Path, pdf: Path, timeout: float = 120.0) -> None:
    """Write ``page`` (a self-contained HTML file) to ``pdf``; RuntimeError says why not."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise RuntimeError("no Chromium to print with: install Debian's chromium, or print the HTML page instead")
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
            "--no-pdf-header-footer", f"--print-to-pdf={pdf.resolve()}", page.resolve().as_uri(),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {page} (exit {done.returncode})")
