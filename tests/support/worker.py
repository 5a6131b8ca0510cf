"""A search worker process for the concurrency tests: `python worker.py STORAGE RUNS LOG SLEEP`."""

from __future__ import annotations

import sys

from bortnas.extraction.config import SearchConfig
from bortnas.extraction.search import search
from tests.support.formula_proxies import FormulaError, formula_proxies

if __name__ == "__main__":
    storage, runs, log, sleep = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    error = FormulaError(log=log, sleep=sleep)
    result = search(
        SearchConfig(space="tiny", storage=storage, runs_dir=runs),
        proxies=formula_proxies(error),
        write_report=False,
    )
    print(f"evaluated={error.calls} pick={result.pick.name} rows={len(result.table)}")
