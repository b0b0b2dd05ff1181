"""Helpers of the real-browser test (tests/integration/test_browser.py): a JupyterLab
server, a headless Chromium driven by Playwright, and the project's rule for missing
components."""
