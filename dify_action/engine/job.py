"""The engine as a GitHub job sees it (issue #10): which container we run in, and the images a
fresh job's engine lacks.

On a GitHub-hosted runner a container action runs on a per-job bridge network with the docker
socket mounted: 127.0.0.1 there is the action container, and every job starts on a new machine
where only the registry holds the images an earlier job built. On a laptop neither is true; the
functions below make the same code right in both places.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from dify_action.errors import DockerError
from dify_action.registry import Credentials

# The engine bind-mounts <data-root>/containers/<id>/{resolv.conf,hostname,hosts} into every
# container, so our own mountinfo names the container we run in (cgroup v2 no longer does).
_OWN_MOUNT = re.compile(r"/containers/([0-9a-f]{64})/(?:resolv\.conf|hostname|hosts)\s")


def own_container(client: Any, mountinfo: Path = Path("/proc/self/mountinfo")) -> str | None:
    """The id of the container this process runs in, if the engine behind ``client`` runs it.

    A GitHub-hosted runner starts a container action on a per-job bridge network, so 127.0.0.1 in
    the action is the action container itself; containers we start must join its network
    namespace (``network_mode=container:<id>``) for our probes to reach them (issue #10). On a
    laptop or a runner host (no container) this is None and the host network is right.
    """
    import docker.errors

    try:
        text = mountinfo.read_text(errors="replace")
    except OSError:
        return None
    for candidate in dict.fromkeys(_OWN_MOUNT.findall(text)):
        try:
            container = client.containers.get(candidate)
        except (docker.errors.NotFound, docker.errors.APIError):
            continue  # another engine's container (e.g. --docker-host points elsewhere)
        if container.attrs.get("State", {}).get("Running"):
            return str(container.id)
    return None


def sibling_network(client: Any, mountinfo: Path = Path("/proc/self/mountinfo")) -> str:
    """``network_mode`` for a container whose ports we must reach on 127.0.0.1: our own
    container's network namespace when we run in one of this engine's containers, else host."""
    own = own_container(client, mountinfo)
    return f"container:{own}" if own else "host"


def ensure_image(client: Any, image: str, credentials: Credentials | None = None) -> bool:
    """Make ``image`` present in the engine, pulling it (by digest when it has one) if needed.

    Every GitHub job runs on a fresh machine: the image the build job pushed is only in the
    registry when the test or scan job starts. Returns True when it had to pull.
    """
    import docker.errors

    from dify_action import refs

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(image)
        return False
    ref = refs.parse(image, input_name="image")
    auth = {"username": credentials.username, "password": credentials.password} if credentials else None
    try:
        client.api.pull(ref.name, tag=ref.digest or ref.tag or "latest", auth_config=auth)
    except docker.errors.APIError as error:
        detail = _scrub(str(getattr(error, "explanation", None) or error), credentials)
        login = "the registry credentials were refused or lack pull permission" if credentials else (
            "no registry credentials were given")
        raise DockerError(
            f"image {image} is not in the Docker engine and could not be pulled: {detail}",
            hint=f"{login}; give registry-username and registry-password (or build it in this job)",
        ) from None
    if ref.digest and ref.tag:
        # pulled by digest: name it as asked too, so `repo:tag@digest` and `repo:tag` both resolve
        client.api.tag(f"{ref.name}@{ref.digest}", ref.name, ref.tag)
    return True


def _scrub(text: str, credentials: Credentials | None) -> str:
    return text.replace(credentials.password, "***") if credentials and credentials.password else text
