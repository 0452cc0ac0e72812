"""Overhead of ``build_component`` (build + label + push + registry check) against plain
``docker build`` + ``docker push`` of the same Dockerfile, in one run. Goal: at most 1.10x.

Both sides use BuildKit through the same docker CLI and the same daemon and registry; each round
busts the cache from the same step (a fresh NONCE build arg) so both really build and push a new
~32 MB layer. Rounds alternate between the two sides; medians are compared.

    python benchmarks/bench_build.py [--rounds 5] [--json]

Starts its own test bed (private dockerd + registry; see tests/testbed) and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dify_action import refs  # noqa: E402
from dify_action.build.component import BuildSpec, build_component  # noqa: E402
from dify_action.engine.docker import DOCKER_CLI, DockerEngine  # noqa: E402
from dify_action.registry import Credentials  # noqa: E402
from tests.testbed import start_testbed, stop_testbed  # noqa: E402

DOCKERFILE = """\
ARG DIFY_VERSION=1.13.3
FROM langgenius/dify-api:${DIFY_VERSION}
ARG NONCE
RUN echo "$NONCE" > /app/api/nonce && head -c 32000000 /dev/urandom > /app/api/blob.bin
RUN echo boto3 > /app/api/requirements-extra.txt
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bed = start_testbed(token_registry=False)
    work = Path(tempfile.mkdtemp(prefix="da-bench-"))
    try:
        assert bed.dockerd and bed.registry
        registry = bed.registry
        context = work / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE)
        creds = Credentials(registry.username, registry.password)
        engine = DockerEngine(bed.dockerd.host)
        config = work / "docker-config"
        config.mkdir()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "DOCKER_HOST": bed.dockerd.host,
               "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(config)}
        subprocess.run([DOCKER_CLI, "login", "-u", registry.username, "--password-stdin", registry.host],
                       input=registry.password, text=True, env=env, check=True, capture_output=True)
        ours: list[float] = []
        plain: list[float] = []
        for round_ in range(args.rounds + 1):  # round 0 warms both paths up and is not counted
            nonce = f"{time.time_ns()}"
            spec = BuildSpec("api", context / "Dockerfile", context,
                             refs.parse_repository(f"{registry.host}/bench/ours"), (f"r{round_}",),
                             build_args={"NONCE": nonce})
            start = time.perf_counter()
            result = build_component(spec, engine, creds, builder="buildkit")
            took_ours = time.perf_counter() - start
            nonce = f"{time.time_ns()}"
            image = f"{registry.host}/bench/plain:r{round_}"
            start = time.perf_counter()
            subprocess.run([DOCKER_CLI, "build", "--network", "host", "--build-arg", f"NONCE={nonce}",
                            "-t", image, str(context)], env=env, check=True, capture_output=True)
            subprocess.run([DOCKER_CLI, "push", image], env=env, check=True, capture_output=True)
            took_plain = time.perf_counter() - start
            if round_:
                ours.append(took_ours)
                plain.append(took_plain)
            print(f"round {round_}{' (warm-up)' if not round_ else ''}: ours {took_ours:.2f}s "
                  f"plain {took_plain:.2f}s  digest {result.digest}", file=sys.stderr)
        engine.close()
        ratio = statistics.median(ours) / statistics.median(plain)
        report = {"rounds": args.rounds, "ours_median_s": round(statistics.median(ours), 3),
                  "plain_median_s": round(statistics.median(plain), 3), "ratio": round(ratio, 3),
                  "goal": "<= 1.10", "met": ratio <= 1.10}
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"build+push: ours {report['ours_median_s']}s vs docker build+push "
                  f"{report['plain_median_s']}s (median of {args.rounds}): ratio {ratio:.3f}x "
                  f"(goal <= 1.10x: {'met' if report['met'] else 'NOT met'})")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        stop_testbed(bed)


if __name__ == "__main__":
    sys.exit(main())
