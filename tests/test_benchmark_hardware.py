"""``benchmarks/common.py``'s ``hardware()``, which every benchmark entry records: seeds repeat a CPU run only on
the same instruction set (oneDNN, MKL and ATen choose their kernels by it), so an entry names the CPU model, ATen's
kernel capability and any variable that overrides the choice; ``"x86_64"`` alone could not tell two machines apart."""

import torch

from tests.bench_script import load_bench


def test_hardware_records_the_kernels_a_cpu_run_used(monkeypatch):
    mod = load_bench("common.py", monkeypatch)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    hw = mod.hardware()
    assert hw["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(hw["cpu_model"], str) and hw["cpu_model"]
    assert hw["kernel_env"]["ATEN_CPU_CAPABILITY"] == "avx2" and "ONEDNN_MAX_CPU_ISA" not in hw["kernel_env"]
