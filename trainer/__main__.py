"""python -m trainer train DATASET --out MODEL ...   |   python -m trainer evaluate MODEL DATASET ..."""

import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("train", "evaluate"):
        print("usage: python -m trainer {train,evaluate} ...  (see --help of each)", file=sys.stderr)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "train":
        from trainer.train import main as run
    else:
        from trainer.evaluate import main as run
    return run(rest)


raise SystemExit(main())
