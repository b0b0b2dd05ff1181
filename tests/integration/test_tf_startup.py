"""TensorFlow's C++ start-up lines in a real kernel: ``%load_ext jupyter_automl`` keeps them out
of the cell that imports Keras, a real error line written to descriptor 2 during that import
still shows, and ``%config Automl.tensorflow_startup_logs = True`` brings the lines back.

The kernels run without pytest's variables (with them, ipykernel does not forward the process's
own descriptor 2 to the notebook, and the test would pass whatever the extension did).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import Kernel

pytestmark = pytest.mark.slow

# Written to descriptor 2 by C-level-like code (os.write) while TensorFlow's package runs.
REAL_ERROR = "E0000 00:00:0.0 1 fake.cc:1] a real error during import"
ERROR_ON_IMPORT = f"""
import os, sys
def _hook(event, args):
    if event == "import" and args[0] == "tensorflow.python" and not _hook.done:
        _hook.done = True
        os.write(2, b"{REAL_ERROR}\\n")
_hook.done = False
sys.addaudithook(_hook)
"""
MARK = "descriptor 2 is read up to here"
NOISE = ["absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard", "cudart_stub"]


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_") and k != "JUPYTER_AUTOML_HEADLESS"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's kernel: it changes nothing here anyway
    return env


@pytest.mark.timeout(180)
def test_the_start_up_lines_stay_out_unless_asked_for(tmp_path: Path) -> None:
    quiet, loud = Kernel(tmp_path, env=kernel_env()), Kernel(tmp_path, env=kernel_env())
    try:
        quiet_id = quiet.submit(f"%load_ext jupyter_automl\n{ERROR_ON_IMPORT}\nimport keras")
        loud_id = loud.submit("%load_ext jupyter_automl\n"
                              "%config Automl.tensorflow_startup_logs = True\nimport keras")
        kept, shown = quiet.collect(quiet_id, 150), loud.collect(loud_id, 150)
        # the first use of a device: TensorFlow's CUDA probe ("failed call to cuInit" without
        # a GPU) ran inside the quiet import, not under the cell that trains first
        used = quiet.collect(quiet.submit("keras.layers.Dense(2)(keras.ops.ones((1, 2)))"), 60)
        # descriptor 2 reaches the notebook through a pipe, in order: a line late for the cell
        # above lands before a marker written to it next, so wait for the marker
        later = [quiet.collect(quiet.submit(f"import os; _ = os.write(2, b'{MARK}\\n')"), 60)]
        deadline = time.monotonic() + 60
        while MARK not in "".join(cell.text for cell in later):
            assert time.monotonic() < deadline, "descriptor 2's marker never reached the notebook"
            later.append(quiet.collect(quiet.submit("pass"), 60))
    finally:
        quiet.shutdown()
        loud.shutdown()
    assert kept.status == "ok" and shown.status == "ok", (kept.text, shown.text)
    assert REAL_ERROR in kept.stderr, kept.text
    assert not [word for word in NOISE if word in kept.text], kept.text
    assert used.status == "ok" and "cuInit" not in used.text and not used.stderr, used.text
    late = "".join(cell.text for cell in later)
    assert "cuInit" not in late and late.strip() == MARK, late
    # asked for: TensorFlow printed them, and they reached the cell
    assert "absl::InitializeLog" in shown.stderr, shown.text
