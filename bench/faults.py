"""The whole fault battery: every kind of fault, many trials, one table.

    python bench/faults.py                 # 5 trials of each kind (WATCHER_FAULT_TRIALS)
    python bench/faults.py --trials 20 --seed 7
    python bench/faults.py --only scan-kills --only http --verbose

Each kind builds temporary installations under one work folder, runs the real
``python -m watcher`` against loopback servers, recovers as an operator would and
counts what was lost, duplicated, crashed or explained badly (definitions in
``tests/faults/__init__.py``). All zeros are expected; the exit code is 1 otherwise.
The test suite (``tests/faults``) runs the same battery with a few trials.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import faults  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _, _ in faults.BATTERY]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=int(os.environ.get(faults.TRIALS_ENV) or 5),
        help="trials of each kind (default: $WATCHER_FAULT_TRIALS, else 5)",
    )
    parser.add_argument("--seed", help=f"another random sample (default: ${faults.SEED_ENV})")
    parser.add_argument("--only", action="append", choices=names, help="run only these kinds")
    parser.add_argument("--verbose", action="store_true", help="also say what each trial did")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    if args.seed is not None:
        os.environ[faults.SEED_ENV] = args.seed
    work = Path(tempfile.mkdtemp(prefix="watcher-faults-"))
    tallies: list[faults.Tally] = []
    started = time.monotonic()
    try:
        template = faults.make_template(work)
        for name, kind, _default in faults.BATTERY:
            if args.only and name not in args.only:
                continue
            began = time.monotonic()
            found = faults.run_kind(kind, work, template, args.trials)
            print(f"{name}: {time.monotonic() - began:.0f}s", file=sys.stderr, flush=True)
            tallies += found
    finally:
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    seed = os.environ.get(faults.SEED_ENV, faults.DEFAULT_SEED)
    print(f"fault battery: {args.trials} trial(s) per kind, seed {seed}, "
          f"{time.monotonic() - started:.0f}s\n")  # fmt: skip
    print(faults.table(tallies))
    problems = [t for t in tallies if not t.clean or t.resent or (args.verbose and t.trace)]
    for t in problems:
        print("\n" + t.report())
        if args.verbose:
            print("  " + "\n  ".join(t.trace))
    return 0 if all(t.clean for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
