"""Start-up chatter that tells a user nothing: TensorFlow's C++ lines and the kernel's
unencrypted-transport warning. One list, used wherever jupyter-automl keeps them off a screen.

Only lines known to be harmless are here: TensorFlow's absl/oneDNN/CPU-feature notes, its
"no CUDA driver" probe on a machine without a GPU, the CUDA plugins' "already registered"
notes and the TensorRT probe on a machine with one, and ipykernel's transport warning (the
kernels jupyter-automl starts itself are encrypted where pyzmq supports it). Anything else,
errors included, passes through.
"""

from __future__ import annotations

import re

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog"
    r"|To enable the following instructions: "
    r"|[IW]\d{4} [\d:.]+ +\d+ (port|cudart_stub|cpu_feature_guard)\.cc"
    r"|E\d{4} [\d:.]+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|E\d{4} [\d:.]+ +\d+ cuda_(dnn|fft|blas)\.cc:\d+\] Unable to register cu\w+ factory"
    r"|W\d{4} [\d:.]+ +\d+ computation_placer\.cc:\d+\] computation placer already registered"
    r"|W\d{4} [\d:.]+ +\d+ py_utils\.cc:\d+\] TF-TRT Warning: Could not find TensorRT"
    r"|\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption)")


def is_noise(line: str) -> bool:
    return NOISE.match(line) is not None
