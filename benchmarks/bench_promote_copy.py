"""Promotion by manifest copy (``RegistryClient.copy``: blob mounts + manifest PUT) against
``docker pull`` + ``docker tag`` + ``docker push`` of a ~300 MB image to a new repository of the
same registry. Goals: at least 50x faster, under 100 KB moved.

Times are measured straight against the registry; the bytes moved are measured in separate runs
through a counting proxy (tests/testbed/proxy.py) so it does not slow the timed runs. Before each
pull+tag+push the image is removed from the daemon, as on a fresh CI runner.

    python benchmarks/bench_promote_copy.py [--rounds 3] [--size-mb 300] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dify_action.registry import Credentials, RegistryClient  # noqa: E402
from tests.testbed import FaultProxy, busybox_context, start_testbed, stop_testbed  # noqa: E402

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN for i in 1 2 3; do head -c {part} /dev/urandom > /layer$i.bin; done
RUN head -c {part} /dev/urandom > /extra1.bin
RUN head -c {part} /dev/urandom > /extra2.bin
"""


def pull_tag_push(client: Any, source: str, target: str, auth: dict[str, str]) -> None:
    repository, _, tag = source.rpartition(":")
    image = client.images.pull(repository, tag=tag, auth_config=auth)
    target_repo, _, target_tag = target.rpartition(":")
    image.tag(target_repo, target_tag)
    for line in client.images.push(target_repo, tag=target_tag, auth_config=auth, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(line["error"])


def forget(client: Any, *references: str) -> None:
    """Leave the daemon as a fresh runner: no image, no layer, no build cache of the source."""
    for reference in references:
        with contextlib.suppress(Exception):  # absent is fine
            client.images.remove(reference, force=True)
    client.api.prune_builds()
    for container in client.containers.list(all=True):  # they hold image layers
        container.remove(force=True)
    for _ in range(5):  # intermediate images of the legacy builder go child first
        for image in client.images.list(all=True):
            with contextlib.suppress(Exception):
                client.images.remove(image.id, force=True)
    left = client.images.list(all=True)
    if left:
        raise RuntimeError(f"images left in the daemon: {[i.tags or i.id for i in left]}")


def measure(client: Any, registry: Any, rounds: int) -> dict[str, Any]:
    """Time both ways on one registry (rounds), then count bytes once each through the proxy."""
    auth = {"username": registry.username, "password": registry.password}
    source_repo = f"{registry.host}/bench/dify-api"
    api = RegistryClient(registry.host, Credentials(registry.username, registry.password))
    manifest = api.get_manifest("bench/dify-api", "staging")
    copy_times: list[float] = []
    pull_times: list[float] = []
    for round_ in range(rounds):
        start = time.perf_counter()
        result = api.copy("bench/dify-api", "staging", f"bench/prod-copy-{round_}", "1.0.0")
        copy_times.append(time.perf_counter() - start)
        assert result.digest == manifest.digest and result.blobs_streamed == 0 and result.changed
        target = f"{source_repo}-prod-pull-{round_}:1.0.0"
        start = time.perf_counter()
        pull_tag_push(client, f"{source_repo}:staging", target, auth)
        pull_times.append(time.perf_counter() - start)
        forget(client, f"{source_repo}:staging", target)
        time.sleep(1)  # let the daemon finish deleting layers before the next timed copy
        print(f"{registry.mode} round {round_}: copy {copy_times[-1]:.3f}s  "
              f"pull+tag+push {pull_times[-1]:.2f}s", file=sys.stderr)
    proxy = FaultProxy(registry.port).start()
    try:
        proxied = RegistryClient(proxy.host, Credentials(registry.username, registry.password))
        proxied.copy("bench/dify-api", "staging", "bench/prod-copy-bytes", "1.0.0")
        copy_bytes = proxy.bytes_in + proxy.bytes_out
        proxy.reset()
        pull_tag_push(client, f"{proxy.host}/bench/dify-api:staging",
                      f"{proxy.host}/bench/dify-api-prod-pull-bytes:1.0.0", auth)
        pull_bytes = proxy.bytes_in + proxy.bytes_out
        forget(client)
    finally:
        proxy.stop()
    copy_median, pull_median = statistics.median(copy_times), statistics.median(pull_times)
    return {
        "registry_auth": registry.mode, "image_compressed_bytes": manifest.layers_size(), "rounds": rounds,
        "copy_median_s": round(copy_median, 4), "pull_tag_push_median_s": round(pull_median, 3),
        "speedup": round(pull_median / copy_median, 1), "copy_bytes": copy_bytes,
        "pull_tag_push_bytes": pull_bytes,
        "met": pull_median / copy_median >= 50 and copy_bytes < 100_000,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import docker

    bed = start_testbed(base_image=False)
    work = Path(tempfile.mkdtemp(prefix="da-bench-"))
    try:
        assert bed.dockerd and bed.registry and bed.token_registry
        registries = (bed.registry, bed.token_registry)
        client = docker.DockerClient(base_url=bed.dockerd.host, timeout=900)
        part = args.size_mb * 1_000_000 // 5
        busybox_context(work / "ctx", DOCKERFILE.replace("{part}", str(part)))
        image, _ = client.images.build(path=str(work / "ctx"), network_mode="host", rm=True, forcerm=True)
        for registry in registries:
            image.tag(f"{registry.host}/bench/dify-api", "staging")
            auth = {"username": registry.username, "password": registry.password}
            pushing = client.images.push(f"{registry.host}/bench/dify-api", tag="staging", auth_config=auth,
                                         stream=True, decode=True)
            for line in pushing:
                if "error" in line:
                    raise RuntimeError(line["error"])
        forget(client, *(f"{registry.host}/bench/dify-api:staging" for registry in registries))
        reports = [measure(client, registry, args.rounds) for registry in registries]
        client.close()
        if args.json:
            print(json.dumps({"goals": {"speedup": ">= 50", "copy_bytes": "< 100000"}, "results": reports},
                             indent=2))
            return 0
        for report in reports:
            print(f"promotion of a {report['image_compressed_bytes'] / 1e6:.0f} MB (compressed) image to a new "
                  f"repository, registry with {report['registry_auth']} auth:\n"
                  f"  manifest copy  {report['copy_median_s']:.3f}s, {report['copy_bytes'] / 1e3:.1f} KB moved\n"
                  f"  pull+tag+push  {report['pull_tag_push_median_s']:.2f}s, "
                  f"{report['pull_tag_push_bytes'] / 1e6:.1f} MB moved\n"
                  f"  speedup {report['speedup']}x (goal >= 50x), copy bytes "
                  f"{'<' if report['copy_bytes'] < 100_000 else '>='} 100 KB: "
                  f"goals {'met' if report['met'] else 'NOT met'}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
        stop_testbed(bed)


if __name__ == "__main__":
    sys.exit(main())
