"""An exported ONNX graph run by OpenVINO, in bfloat16 where the CPU multiplies bfloat16 in hardware.

ONNX Runtime's CPU provider has no bfloat16 arithmetic on x86, so on a CPU with AMX (Intel Xeon from Sapphire Rapids
on) or AVX-512 BF16 it leaves most of the core unused: the English model's matrix products ran at about 50 GFLOPS
there against some 1,200 in bfloat16 on the same core. OpenVINO reads the same graph file and runs its matrix
products in bfloat16 with fp32 accumulation: the vectors stay within a cosine of 0.9999 of fp32's (far closer than
int8's 0.994) at about four times ONNX Runtime's rate in bulk and two to three times per query. Where the CPU has no
bfloat16, OpenVINO runs fp32.

Batches: a run's kernels are chosen by its shape, so a text padded to a longer neighbour's arbitrary length came out
a few units in the fourth decimal apart from the same text alone. The encoders pad every text to a multiple of 16
tokens (masked out), which also keeps OpenVINO to a few shapes (it prepares its kernels for every new one): then a
text's vector is exactly the same alone or in any batch (tests/indexer/embedders), so a restricted article never
moves another article's vector, nor one query another's.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# OpenVINO prepares its kernels for every new input shape: the encoders pad lengths to a multiple of this.
SHAPE_STEP = 16


@cache
def has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (OpenVINO runs the graph in bfloat16 only then)."""
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoSession:
    """The graph compiled for the CPU: `run(feed)` from any thread; each thread has its own infer request, and
    the runs of different threads go side by side, `threads` cores each."""

    def __init__(self, graph: Path, threads: int) -> None:
        import openvino

        core = openvino.Core()
        streams = max(1, (os.cpu_count() or 1) // threads)
        self._model = core.compile_model(
            str(graph),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": "bf16" if has_bfloat16() else "f32",
                "NUM_STREAMS": streams,
                "INFERENCE_NUM_THREADS": streams * threads,
                # Pinned threads would hold their cores against the searches' other work on a busy host.
                "ENABLE_CPU_PINNING": False,
            },
        )
        self._requests = threading.local()

    def run(self, feed: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """The graph's first output for `feed`, a copy (the request reuses its output buffer)."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._model.create_infer_request()
        return np.array(request.infer(feed)[0], dtype=np.float32)
