"""verify's latency: the time from the live source turning healthy to the verdict.

On a private test engine and registry: a stand-in Dify api image (answers ``/health`` with its Dify
version, has a HEALTHCHECK) is pushed, a GitOps repository pins its digest, and ``verify`` (the core,
in a thread, docker + Dify /health sources) waits while the container is started. A side poller
(every 10 ms) notes when the container is healthy on the engine *and* ``/health`` answers; the
latency is the verdict's time minus that moment. Measured for several poll intervals (5 s is the
default); the floor is one reading, the ceiling one interval plus one reading.

    python benchmarks/bench_verify.py [--rounds 5] [--intervals 0.5,5] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from emulator import BareRepo  # noqa: E402
from testbed.bed import start_testbed, stop_testbed  # noqa: E402
from testbed.difyapi import build_api_image  # noqa: E402

from dify_action.config import load as config_module  # noqa: E402
from dify_action.registry import Credentials, RegistryClient  # noqa: E402
from dify_action.verify import VerifyInputs, resolve_request, verify  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(container: Any, url: str) -> bool:
    container.reload()
    if ((container.attrs.get("State") or {}).get("Health") or {}).get("Status") != "healthy":
        return False
    try:
        return requests.get(url, timeout=1).json().get("status") == "ok"
    except (requests.RequestException, ValueError):
        return False


def one_round(client: Any, image: str, config: Path, repo: str, registry: Any, interval: float) -> dict[str, float]:
    port, project = free_port(), f"bench{secrets.token_hex(3)}"
    text = config.read_text().replace("PROJECT", project).replace("PORT", str(port)).replace("INTERVAL", f"{interval}s")
    (config.parent / "run.yaml").write_text(text)
    request = resolve_request(VerifyInputs(environment="staging", config=config_module.load(config.parent / "run.yaml"),
                                           gitops_repo=repo))
    registry_client = RegistryClient(registry.host, Credentials(registry.username, registry.password))
    done: dict[str, Any] = {}
    waiting = threading.Event()

    def run() -> None:
        done["result"] = verify(request, lambda host: registry_client,
                                progress=lambda line: waiting.set() if line.startswith("[") else None)
        done["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    waiting.wait(timeout=60)  # verify read the expected state and its first reading saw nothing: deploy now
    container = client.containers.run(image, detach=True, network_mode="host", environment={"DIFY_PORT": str(port)},
                                      labels={"com.docker.compose.project": project,
                                              "com.docker.compose.service": "api"})
    try:
        while not healthy(container, f"http://127.0.0.1:{port}/health"):
            time.sleep(0.01)
        turned = time.monotonic()
        thread.join(timeout=120)
        assert done["result"].verified, done["result"].verdict.cause
        return {"latency": done["at"] - turned, "rounds": done["result"].verdict.rounds}
    finally:
        container.remove(force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--intervals", default="0.5,5")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    bed = start_testbed(token_registry=False)
    work = Path(tempfile.mkdtemp(prefix="da-bench-verify-"))
    try:
        import docker

        assert bed.dockerd is not None and bed.registry is not None
        client = docker.DockerClient(base_url=bed.env()["DOCKER_HOST"])
        registry = bed.registry
        image = f"{registry.host}/bench/dify-api"
        build_api_image(client, f"{image}:1.13.3", "1.13.3", base=bed.base_image or "", health_port=5001)
        client.images.push(image, "1.13.3", auth_config={"username": registry.username, "password": registry.password})
        digest = RegistryClient(registry.host, Credentials(registry.username, registry.password)).resolve_digest(
            f"{image}:1.13.3")
        bare = BareRepo(work / "srv", "acme", "gitops")
        bare.commit_files("main", {"staging/docker-compose.yaml":
                                   f"services:\n  api:\n    image: {image}:1.13.3@{digest}\n"}, "staging")
        config = work / "dify-action.yaml"
        config.write_text(f"""version: 1
components: [{{name: api, image: {image}, dockerfile: Dockerfile}}]
environments:
  staging:
    paths: [staging]
    verify:
      docker: {{project: PROJECT, host: "{bed.env()['DOCKER_HOST']}"}}
      dify: {{url: "http://127.0.0.1:PORT"}}
      interval: INTERVAL
      timeout: 2m
""")
        results: dict[str, Any] = {}
        for interval in (float(i) for i in args.intervals.split(",")):
            runs = [one_round(client, f"{image}:1.13.3", config, bare.path.as_uri(), registry, interval)
                    for _ in range(args.rounds)]
            latencies = [r["latency"] for r in runs]
            results[f"{interval:g}s"] = {"median": statistics.median(latencies), "max": max(latencies),
                                         "min": min(latencies), "rounds": args.rounds}
        client.close()
    finally:
        stop_testbed(bed, remove=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for interval, figure in results.items():
            print(f"interval {interval:>5}: healthy -> verdict median {figure['median']:.2f} s, "
                  f"min {figure['min']:.2f} s, max {figure['max']:.2f} s ({figure['rounds']} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
