"""The search (optimal subarchitecture extraction): configuration, the FPTAS and its baselines,
the W-coefficient, Pareto front and ranking, the Optuna store, workers, report and export.

Data flow: space → proxies → optimizer → store → report/export (see docs/algorithm.md)."""
