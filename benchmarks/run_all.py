"""`make bench`: run every benchmark in this folder, each in its own process, and print figures.

The mutation run (benchmarks/mutation/, also `make mutation`) is a package, not a `*_bench.py`
file, so it is named here; it comes last because it takes the longest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
PACKAGES = ("mutation",)


def main() -> int:
    failed = 0
    benches = [(bench.name, bench.stem) for bench in sorted(HERE.glob("*_bench.py"))]
    for title, name in benches + [(f"{p}/", p) for p in PACKAGES]:
        print(f"== {title}", flush=True)
        module = f"benchmarks.{name}"
        failed += subprocess.run([sys.executable, "-m", module], cwd=HERE.parent).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
