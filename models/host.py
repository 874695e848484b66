"""The host class: which CPU this is and the units that decide an encoder's numerics.

paperlens runs on machines that differ (Sapphire Rapids with AMX, AMD EPYC with AVX2 only or with
AVX-512 BF16): bf16 arithmetic is fast on some and emulated on others, and every figure means
something only beside the host it came from. Tests and benchmarks print `describe_host()` first.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# The flags that change what the encoder runs in, or how fast.
FLAGS_THAT_MATTER = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8")


@dataclass(frozen=True)
class Host:
    cpu: str
    cores: int
    flags: frozenset[str]

    @property
    def fast_bf16(self) -> bool:
        """bf16 matmuls in hardware (AMX or AVX-512 BF16); elsewhere torch emulates them, 7x slower than fp32."""
        return bool({"amx_bf16", "avx512_bf16"} & self.flags)

    @property
    def kind(self) -> str:
        if "amx_bf16" in self.flags:
            return "AMX"
        if "avx512_bf16" in self.flags:
            return "AVX-512 BF16"
        if "avx512f" in self.flags:
            return "AVX-512"
        return "AVX2" if "avx2" in self.flags else "no AVX2"

    def describe(self) -> str:
        units = " ".join(f"{flag}{'+' if flag in self.flags else '-'}" for flag in FLAGS_THAT_MATTER)
        return f"host: {self.cpu}, {self.cores} cores, class {self.kind} ({units})"


@lru_cache(maxsize=1)
def this_host() -> Host:
    cpu, flags = platform.processor() or platform.machine(), frozenset()
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == "model name" and value.strip():
            cpu = value.strip()
        elif name.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return Host(cpu=cpu, cores=os.cpu_count() or 1, flags=flags)


def describe_host() -> str:
    """One line: the CPU model, its cores and the flags that matter (avx2, avx512f, amx_bf16, ...)."""
    return this_host().describe()
