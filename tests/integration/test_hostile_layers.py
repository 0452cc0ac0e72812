"""Hostile layers in a real registry (issue 22, class 2): work is bounded by the bytes really
streamed and inflated, not by what the manifest declares. Each case runs ``read_layers`` in a
child process at 10x its budget and checks its CPU time, peak RSS and wall time against stated
bounds (generous for a shared 2-core machine; the unbounded code took minutes and gigabytes)."""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
from typing import Any

import pytest

from dify_action.registry import OCI_MANIFEST, Credentials, Manifest, RegistryClient, compute_digest

pytestmark = pytest.mark.integration
MIB = 1 << 20
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
PROBE = """
import json, sys
from dify_action import refs
from dify_action.dify.layers import read_layers
from dify_action.errors import DifyActionError
from dify_action.registry import Credentials, RegistryClient
host, user, password, image, budget = sys.argv[1:6]
client = RegistryClient(host, Credentials(user, password))
try:
    facts = read_layers(client, refs.parse(image), budget=int(budget))
    answer = {"ok": True, "notes": list(facts.notes), "graph": facts.graph is not None}
except DifyActionError as error:
    answer = {"ok": False, "error": error.message}
# this process's own peak (VmHWM): ru_maxrss after exec still holds the forking parent's peak
status = open("/proc/self/status").read()
answer["rss_kb"] = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps(answer))
"""


def tar_of(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def push_image(client: RegistryClient, repository: str, layers: list[bytes], declared: int | None = None) -> str:
    config = json.dumps({"architecture": "amd64", "os": "linux", "history": []}).encode()
    config_blob = client.push_blob(repository, config)
    descriptors = []
    for data in layers:
        blob = client.push_blob(repository, data)
        descriptors.append({"mediaType": LAYER, "digest": blob.digest, "size": declared if declared is not None
                            else blob.size})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": descriptors, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_blob.digest,
        "size": config_blob.size}}).encode()
    tag = secrets.token_hex(4)
    client.put_manifest(repository, tag, Manifest(OCI_MANIFEST, compute_digest(body), body))
    return f"{client.registry}/{repository}:{tag}"


def measured(registry: Any, image: str, budget: int) -> tuple[dict[str, Any], float, float, float]:
    """(answer, CPU seconds, peak RSS MB, wall seconds) of read_layers in a fresh process."""
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", PROBE, registry.host, registry.username, registry.password,
                              image, str(budget)], stdout=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    answer = json.loads(out)
    print(f"read_layers: {answer.get('error', 'read')[:60]}: cpu {usage.ru_utime + usage.ru_stime:.2f} s, "
          f"peak RSS {answer['rss_kb'] / 1024:.0f} MB, wall {time.monotonic() - start:.2f} s")
    return answer, usage.ru_utime + usage.ru_stime, answer["rss_kb"] / 1024, time.monotonic() - start


@pytest.fixture(scope="module")
def client(registry: Any) -> RegistryClient:
    return RegistryClient(registry.host, Credentials(registry.username, registry.password))


def test_a_layer_larger_than_declared_is_cut_at_the_budget(registry: Any, client: RegistryClient) -> None:
    noise = gzip.compress(tar_of([("noise.bin", secrets.token_bytes(10 * MIB))]), 1)  # 10x a 1 MiB budget
    image = push_image(client, "hostile/declared", [noise], declared=100)  # claims 100 bytes
    answer, cpu, rss, wall = measured(registry, image, MIB)
    assert not answer["ok"] and "over the read budget of 1 MiB" in answer["error"]
    assert cpu < 5 and rss < 120 and wall < 20, (cpu, rss, wall)


def test_a_compression_bomb_is_cut_at_the_inflated_budget(registry: Any, client: RegistryClient) -> None:
    bomb = gzip.compress(tar_of([("app/api/pyproject.toml", b"\0" * (40 * MIB))]), 9)  # 10x 4 x 1 MiB inflated
    image = push_image(client, "hostile/bomb", [bomb])
    answer, cpu, rss, wall = measured(registry, image, MIB)
    assert not answer["ok"] and "inflate to over 4 MiB" in answer["error"]
    assert cpu < 5 and rss < 120 and wall < 20, (cpu, rss, wall)


def test_duplicate_copies_replace_each_other_and_whiteouts_elsewhere_cost_nothing(
        registry: Any, client: RegistryClient) -> None:
    migration = b"revision = 'a'\ndown_revision = None\n" + b"#" * (100 << 10)
    copies = [("app/api/migrations/versions/a_x.py", migration)] * 400  # 40 MiB of one file
    whiteouts = [(f"usr/lib/x{i}/.wh.f{i}", b"") for i in range(60_000)]  # the quadratic case before
    layer = gzip.compress(tar_of(copies + whiteouts + [("app/api/.wh.unrelated", b"")]), 6)
    image = push_image(client, "hostile/dups", [layer])
    answer, cpu, rss, wall = measured(registry, image, 16 * MIB)  # 10x: 64 MiB inflated allowed, ~72 sent
    assert not answer["ok"] or answer["graph"], answer
    assert cpu < 20 and rss < 150 and wall < 60, (cpu, rss, wall)
    small = gzip.compress(tar_of(copies[:50] + whiteouts), 6)
    answer, cpu, rss, wall = measured(registry, push_image(client, "hostile/dups", [small]), 16 * MIB)
    assert answer["ok"] and answer["graph"], answer  # one copy kept, read as the graph
    assert cpu < 20 and rss < 150 and wall < 60, (cpu, rss, wall)
