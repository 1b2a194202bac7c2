"""``agent serve``: the command that serves GLM-4.5V correctly with vLLM or SGLang, and a launcher
that starts it and waits until it answers.

Flags follow the engines' own GLM-4.5V recipes (zai-org/GLM-V README; recipes.vllm.ai
zai-org/GLM-4.5V; SGLang's GLM-4.5V launch example):

* ``--reasoning-parser glm45`` (thinking arrives as ``reasoning_content``) and
  ``--tool-call-parser glm45 --enable-auto-tool-choice``;
* tensor parallelism across the GPUs present (a power of two that divides GLM-4.5V's 8 KV heads);
  the FP8 checkpoint (``zai-org/GLM-4.5V-FP8``, ~106 GB of weights) fits where BF16 (~215 GB) does
  not, and the vLLM recipe adds ``--enable-expert-parallel`` for it;
* an image limit per prompt matching the agent's history (4 earlier screenshots + the current one);
* ``--max-model-len`` up to the model's 64K context.

Weights are the user's: a hub name is downloaded by the engine on the GPU host, a path is used as is.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

BF16_GB = 215
FP8_GB = 110


@dataclass(frozen=True, slots=True)
class Gpu:
    name: str
    memory_gb: float


def detect_gpus() -> list[Gpu]:
    """GPUs from ``nvidia-smi`` (none when it is missing or fails)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, mem = line.rpartition(",")
        try:
            gpus.append(Gpu(name.strip(), float(mem) / 1024))
        except ValueError:
            continue
    return gpus


def tensor_parallel_size(n_gpus: int) -> int:
    """The largest power of two <= the GPUs present and <= 8 (GLM-4.5V has 8 KV heads)."""
    tp = 1
    while tp * 2 <= min(max(n_gpus, 1), 8):
        tp *= 2
    return tp


@dataclass(frozen=True)
class ServePlan:
    argv: list[str]
    base_url: str
    served_name: str
    notes: list[str]

    def command(self) -> str:
        return shlex.join(self.argv)


def plan(
    *,
    engine: str = "vllm",
    model: str | None = None,
    fp8: bool = False,
    gpus: list[Gpu] | None = None,
    tp: int | None = None,
    port: int = 8000,
    host: str = "127.0.0.1",
    served_name: str = "glm-4.5v",
    max_images: int = 5,
    max_model_len: int = 65536,
) -> ServePlan:
    if engine not in ("vllm", "sglang"):
        raise ValueError(f"unknown engine {engine!r}: use vllm or sglang")
    gpus = detect_gpus() if gpus is None else gpus
    weights = model or ("zai-org/GLM-4.5V-FP8" if fp8 else "zai-org/GLM-4.5V")
    fp8 = fp8 or weights.upper().endswith("FP8")
    size = tp or tensor_parallel_size(len(gpus))
    notes: list[str] = []
    if not gpus:
        notes.append("no NVIDIA GPU found here (nvidia-smi): run this on the GPU host; "
                     f"tensor-parallel size {size} assumed — set --tp to the GPUs there")
    else:
        used = gpus[:size]
        total = sum(g.memory_gb for g in used)
        need = FP8_GB if fp8 else BF16_GB
        notes.append(f"{len(gpus)} GPU(s): {', '.join(sorted({g.name for g in gpus}))}; tensor parallel over {size} "
                     f"with {total:.0f} GB")
        if total < need * 1.1:
            hint = " — try --fp8" if not fp8 and total >= FP8_GB * 1.1 else ""
            notes.append(f"warning: {'FP8' if fp8 else 'BF16'} weights need about {need} GB plus KV cache; "
                         f"{total:.0f} GB may not be enough{hint}")
    if engine == "vllm":
        argv = ["vllm", "serve", weights, "--tensor-parallel-size", str(size),
                "--served-model-name", served_name,
                "--reasoning-parser", "glm45", "--tool-call-parser", "glm45", "--enable-auto-tool-choice",
                "--limit-mm-per-prompt", json.dumps({"image": max_images, "video": 0}, separators=(",", ":")),
                "--max-model-len", str(max_model_len), "--allowed-local-media-path", "/",
                "--host", host, "--port", str(port)]
        if fp8:
            argv.append("--enable-expert-parallel")
    else:
        argv = ["python3", "-m", "sglang.launch_server", "--model-path", weights, "--tp-size", str(size),
                "--served-model-name", served_name, "--reasoning-parser", "glm45", "--tool-call-parser", "glm45",
                "--context-length", str(max_model_len), "--host", host, "--port", str(port)]
    if host in ("0.0.0.0", "::"):
        notes.append("listening on all interfaces: put it behind a firewall or set --api-key on the engine")
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return ServePlan(argv, f"http://{url_host}:{port}/v1", served_name, notes)


class LaunchError(RuntimeError):
    pass


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def launch(argv: list[str], base_url: str, *, timeout: float = 1800.0, poll: float = 2.0,
           log: Callable[[str], object] = print) -> subprocess.Popen:
    """Start the engine and return once ``{base_url}/models`` answers. Raises ``LaunchError`` when
    the engine is missing, exits early, or is not ready within ``timeout``; the process is then stopped."""
    if shutil.which(argv[0]) is None:
        raise LaunchError(f"{argv[0]} not found on PATH: install the engine on the GPU host "
                          f"(pip install vllm, or pip install 'sglang[all]')")
    proc = subprocess.Popen(argv)
    start = time.monotonic()
    last_note = start
    try:
        while True:
            if proc.poll() is not None:
                raise LaunchError(f"{argv[0]} exited with code {proc.returncode} before it was ready; see its output above")
            if _ready(base_url):
                log(f"ready after {time.monotonic() - start:.0f} s: {base_url}")
                return proc
            if time.monotonic() - start > timeout:
                raise LaunchError(f"not ready after {timeout:.0f} s: {base_url}")
            if time.monotonic() - last_note > 30:
                log(f"waiting for {base_url} ({time.monotonic() - start:.0f} s; loading weights takes minutes)")
                last_note = time.monotonic()
            time.sleep(poll)
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
