"""``python -m tests.testbed up [--no-docker] [--no-token-registry] [--root DIR]`` prints shell
``export`` lines (DOCKER_HOST, DA_REGISTRY, ...) and leaves the bed running;
``python -m tests.testbed down DIR`` stops it by the pids in DIR/state.json and removes DIR."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .bed import load_testbed, start_testbed, stop_testbed
from .procs import TestbedError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start dockerd, registries and the base image; print exports")
    up.add_argument("--root", type=Path, help="state dir (default: a new /tmp/da-XXXX; keep it short)")
    up.add_argument("--no-docker", action="store_true")
    up.add_argument("--no-registry", action="store_true")
    up.add_argument("--no-token-registry", action="store_true")
    up.add_argument("--no-base-image", action="store_true")
    down = sub.add_parser("down", help="stop a bed started by 'up' and remove its state dir")
    down.add_argument("root", type=Path)
    down.add_argument("--keep", action="store_true", help="keep the state dir (logs)")
    env = sub.add_parser("env", help="print the exports of a running bed again")
    env.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            bed = start_testbed(args.root, docker=not args.no_docker, registry=not args.no_registry,
                                token_registry=not args.no_token_registry, base_image=not args.no_base_image)
        elif args.action == "env":
            bed = load_testbed(args.root)
        else:
            stop_testbed(load_testbed(args.root), remove=not args.keep)
            return 0
    except TestbedError as error:
        print(f"testbed: {error}", file=sys.stderr)
        return 1
    for key, value in bed.env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
