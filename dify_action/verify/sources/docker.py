"""A Docker engine running the environment as a compose project (Portainer/Komodo-style GitOps
stacks): the project's containers run the expected image digests, and are healthy.

What runs is read from the engine, not from the compose file: a container's image and that image's
``RepoDigests`` (the registry digest it was pulled or pushed as). A one-off container that exited 0
(a ``MODE=migration`` run) has done its job; one that exited non-zero failed (its last log lines are
named: a failed migration says why there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dify_action.text import display
from dify_action.verify.model import ExpectedImage, Observation, State, short_digest

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

NAME = "docker"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class DockerSource:
    name = NAME

    def __init__(self, project: str, host: str, client: Any = None) -> None:
        import docker

        self.project = project
        self.client = client or docker.DockerClient(base_url=host, timeout=10)

    def close(self) -> None:
        self.client.close()

    def observe(self, expectations: Expectations) -> list[Observation]:
        from docker.errors import DockerException
        from requests import RequestException

        try:
            containers = self.client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
            readings = [(c.attrs, self._repo_digests(c.attrs.get("Image", "")), c) for c in containers]
        except (DockerException, RequestException) as error:
            return [Observation(NAME, f"project {self.project}", State.PENDING,
                                f"engine unreachable ({type(error).__name__}); retrying")]
        expected = expectations.current
        out: list[Observation] = []
        covered: set[str] = set()
        for attrs, digests, container in readings:
            asked = str((attrs.get("Config") or {}).get("Image") or "")
            want = expected.image_for(asked)
            if want is None:
                continue  # a database, a proxy...: not an image of ours
            covered.add(want.ref.match_key)
            out.append(container_state(attrs, digests, want, lambda c=container: _tail(c)))
        missing = [i for i in expected.images if i.ref.match_key not in covered]
        out += [Observation(NAME, f"project {self.project}", State.PENDING, f"no container runs {i.ref.name} yet")
                for i in missing]
        return out

    def _repo_digests(self, image_id: str) -> list[str]:
        from docker.errors import ImageNotFound

        try:
            return list(self.client.images.get(image_id).attrs.get("RepoDigests") or ())
        except ImageNotFound:
            return []


def _tail(container: Any) -> str:
    try:
        text = container.logs(tail=3).decode(errors="replace")
    except Exception:  # logs are a courtesy in a failure message: never the reason it fails
        return ""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def container_state(attrs: dict[str, Any], repo_digests: list[str], want: ExpectedImage,
                    logs: Any = lambda: "") -> Observation:
    """One container of the project against the image it should run."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    subject = f"{labels.get(SERVICE_LABEL) or attrs.get('Name', '?').lstrip('/')}"
    state = attrs.get("State") or {}
    status = state.get("Status")
    if status == "exited":
        code = state.get("ExitCode")
        if code != 0:
            tail = display(logs())[:300]
            return Observation(NAME, subject, State.FAILED, f"exited with code {code}" + (f": {tail}" if tail else ""))
    elif status == "restarting":
        return Observation(NAME, subject, State.DEGRADED, "restarting (crash loop)")
    elif status != "running":
        return Observation(NAME, subject, State.PENDING, f"{status or 'unknown'}")
    health = (state.get("Health") or {}).get("Status") if status == "running" else None  # an exited one-off
    actual = next((d.rpartition("@")[2] for d in repo_digests if want.matches_repository(d.rpartition("@")[0])), None)
    if actual != want.digest:  # what runs is wrong, healthy or not: that is the cause to name
        runs = f"@ {short_digest(actual)}" if actual else \
            f"image {str(attrs.get('Image'))[:19]} with no registry digest"
        return Observation(NAME, subject, State.MISMATCH, f"runs {want.ref.name} {runs}, expected "
                           f"{want.ref.name}:{want.ref.tag} @ {short_digest(want.digest)}"
                           + (f" ({health})" if health else ""))
    if health == "starting":
        return Observation(NAME, subject, State.PENDING, "health check starting")
    if health == "unhealthy":
        return Observation(NAME, subject, State.DEGRADED, "unhealthy (its HEALTHCHECK fails)")
    done = "completed (exit 0)" if status == "exited" else "healthy" if health == "healthy" else "running"
    return Observation(NAME, subject, State.OK, f"{done}, runs {want.ref.name}:{want.ref.tag} @ "
                       f"{short_digest(want.digest)}")
