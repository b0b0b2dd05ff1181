"""The first-import finder of :mod:`jupyter_automl._utils.tf_startup`, on a stand-in
``tensorflow`` package that writes TensorFlow's start-up lines to descriptor 2 (a real
descriptor, in a fresh interpreter whose stderr is a pipe read here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOISE = ("WARNING: All log messages before absl::InitializeLog() is called are written to "
         "STDERR\\nI0000 00:00:1796489157.432217    6566 port.cc:153] oneDNN custom "
         "operations are on.\\n")
PACKAGE = f"""import os
os.write(2, b"{NOISE}E0000 00:00:1.0 1 real.cc:1] kept\\n")
if os.environ.get("FAIL"):
    raise ImportError("broken install")
"""
RUN = """import sys
from jupyter_automl._utils import tf_startup
tf_startup.install(lambda: {enabled})
try:
    import tensorflow
except ImportError as exc:
    print(exc)
print("installed" if tf_startup.installed() else "gone")
"""


def run(tmp_path: Path, enabled: bool = True,
        fail: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tensorflow").mkdir(exist_ok=True)
    (tmp_path / "tensorflow" / "__init__.py").write_text(PACKAGE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    env.pop("FAIL", None)
    if fail:
        env["FAIL"] = "1"
    return subprocess.run([sys.executable, "-c", RUN.format(enabled=enabled)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)


def test_the_noise_is_dropped_and_other_lines_kept(tmp_path: Path) -> None:
    out = run(tmp_path)
    assert out.stderr == "E0000 00:00:1.0 1 real.cc:1] kept\n"
    assert out.stdout == "gone\n"  # the finder leaves after the first import


def test_switched_off_everything_shows(tmp_path: Path) -> None:
    out = run(tmp_path, enabled=False)
    assert "absl::InitializeLog" in out.stderr and "oneDNN" in out.stderr
    assert "kept" in out.stderr


def test_a_failed_import_shows_every_line(tmp_path: Path) -> None:
    out = run(tmp_path, fail=True)
    assert out.stdout.startswith("broken install")
    assert "absl::InitializeLog" in out.stderr and "kept" in out.stderr
