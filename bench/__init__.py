"""ember vs PyTorch benchmarks: ``python -m bench [workload ...]``."""
