"""`make bench`: run every benchmark in this folder, each in its own process, and print figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    failed = 0
    for bench in sorted(HERE.glob("*_bench.py")):
        print(f"== {bench.name}", flush=True)
        module = f"benchmarks.{bench.stem}"
        failed += subprocess.run([sys.executable, "-m", module], cwd=HERE.parent).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
