"""The platform matrix (one native job per platform, then a merge) vs one emulated build of both
platforms (issue 20), on a Dockerfile whose RUN step does CPU work (gzip + sha256 of 160 MB).

Measured here, on one amd64 machine with QEMU registered through binfmt_misc:
- one process, ``build --platforms linux/amd64,linux/arm64 --push``: amd64 native + arm64 emulated,
  both pushed by digest, then the index and its tag;
- the matrix: the amd64 job (``--push-by-digest``), the arm64 job as it runs here (emulated), and
  the merge (index + tag). There is no arm64 machine here: a native arm64 job is ESTIMATED as the
  amd64 job's time (same work on a comparable core), so the matrix's wall time is estimated as
  max(amd64 job, that estimate) + merge; the report says which figures are estimates.

    python benchmarks/bench_platforms.py [--rounds 2] [--json]

Starts its own test bed (private dockerd + registry), registers qemu-aarch64 for its duration and
unregisters it (tests/testbed/qemu.py); needs scripts/bootstrap's arm64 busybox.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from testbed import start_testbed, stop_testbed  # noqa: E402
from testbed.images import BUSYBOX  # noqa: E402
from testbed.qemu import aarch64_emulation, arm64_busybox  # noqa: E402

from dify_action import refs  # noqa: E402
from dify_action.build.component import BuildSpec  # noqa: E402
from dify_action.build.merge import PlatformResult, merge  # noqa: E402
from dify_action.build.platforms import build_platforms  # noqa: E402
from dify_action.engine.docker import DockerEngine  # noqa: E402
from dify_action.registry import Credentials, clients_for  # noqa: E402

DOCKERFILE = """\
FROM scratch
ARG TARGETARCH
COPY busybox-${TARGETARCH} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG NONCE
RUN echo "$NONCE" > /nonce && i=0 && while [ $i -lt 40 ]; do \\
      head -c 4000000 /dev/urandom | gzip -1 | sha256sum >> /work.txt; i=$((i+1)); done
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bed = start_testbed(token_registry=False, base_image=False)
    work = Path(tempfile.mkdtemp(prefix="da-bench-"))
    try:
        assert bed.dockerd and bed.registry
        registry = bed.registry
        context = work / "ctx"
        context.mkdir()
        shutil.copy2(BUSYBOX, context / "busybox-amd64")
        shutil.copy2(arm64_busybox(), context / "busybox-arm64")
        (context / "Dockerfile").write_text(DOCKERFILE)
        creds = Credentials(registry.username, registry.password)
        engine = DockerEngine(bed.dockerd.host)
        repository = refs.parse_repository(f"{registry.host}/bench/platforms")

        def spec(platforms: str, tag: str) -> BuildSpec:
            return BuildSpec("api", context / "Dockerfile", context, repository, (tag,), platform=platforms,
                             build_args={"NONCE": str(time.time_ns())})

        def timed(platforms: str, tag: str, by_digest: bool) -> tuple[float, str | None]:
            start = time.perf_counter()
            result = build_platforms(spec(platforms, tag), engine, creds, by_digest=by_digest, builder="buildkit")
            return time.perf_counter() - start, result.platforms[0].digest

        rows: dict[str, list[float]] = {"one_process_emulated": [], "amd64_job": [], "arm64_job_emulated": [],
                                        "merge": []}
        with aarch64_emulation():
            timed("linux/amd64,linux/arm64", "warm", False)  # caches the COPY layers of both platforms
            for round_ in range(args.rounds):
                took, _ = timed("linux/amd64,linux/arm64", f"one-{round_}", False)
                rows["one_process_emulated"].append(took)
                amd, amd_digest = timed("linux/amd64", f"m-{round_}", True)
                arm, arm_digest = timed("linux/arm64", f"m-{round_}", True)
                rows["amd64_job"].append(amd)
                rows["arm64_job_emulated"].append(arm)
                results = [PlatformResult("api", repository.name, (f"m-{round_}",), p, str(d), p)
                           for p, d in (("linux/amd64", amd_digest), ("linux/arm64", arm_digest))]
                start = time.perf_counter()
                merge(results, "linux/amd64,linux/arm64", clients_for(creds))
                rows["merge"].append(time.perf_counter() - start)
                print(f"round {round_}: one process {took:.1f}s; jobs amd64 {amd:.1f}s, arm64 (emulated) "
                      f"{arm:.1f}s; merge {rows['merge'][-1]:.2f}s", file=sys.stderr)
        engine.close()
        med = {k: round(statistics.median(v), 3) for k, v in rows.items()}
        arm64_native = med["amd64_job"]  # the estimate (see the module doc)
        matrix = round(max(med["amd64_job"], arm64_native) + med["merge"], 3)
        report = {"rounds": args.rounds, "measured_median_s": med,
                  "estimated": {"arm64_job_native_s": arm64_native, "matrix_wall_s": matrix,
                                "speedup_vs_one_emulated_build": round(med["one_process_emulated"] / matrix, 2)},
                  "note": "no arm64 machine here: a native arm64 job is estimated as the amd64 job"}
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"one emulated build of both platforms: {med['one_process_emulated']}s; matrix: amd64 job "
                  f"{med['amd64_job']}s, merge {med['merge']}s, arm64 job emulated {med['arm64_job_emulated']}s "
                  f"(native estimated {med['amd64_job']}s) -> matrix wall ~{matrix}s, "
                  f"{report['estimated']['speedup_vs_one_emulated_build']}x faster (estimate)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        stop_testbed(bed)


if __name__ == "__main__":
    sys.exit(main())
