"""The local demo: the dify-action pipeline on the bundled example, with local defaults.

build -> push -> smoke test -> scan -> record gates -> bump staging (git provider, branch mode,
printing the reviewer's diff) -> rerun (idempotent) -> merge -> deploy staging, verify staging (a
stale deployment of the wrong version is caught, then the right one is verified and recorded) ->
promote to production (it requires that verification) -> merge -> rollback production (a revert,
checked by the Dify migration guard).
Starts a private Docker engine and a registry with auth when none is given (DOCKER_HOST and
DA_REGISTRY* unset), seeds a local bare GitOps repository from examples/gitops, uses an offline
stand-in for langgenius/dify-api when it cannot be pulled, and stops everything it started.
Every stage runs the real CLI (`python -m dify_action ...`) and the script asserts its results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.testbed import difyapi, images  # noqa: E402
from tests.testbed.bed import Testbed, start_testbed, stop_testbed  # noqa: E402

EXAMPLE = ROOT / "examples" / "dify-custom"
GITOPS = ROOT / "examples" / "gitops"
EXAMPLE_REGISTRY = "127.0.0.1:5000"
STAGING_PROJECT = "dify-staging"  # the compose project staging runs as on the demo's engine
# The stand-in plays the Dify api image: it serves GET /health on 5001 like the real api.
STANDIN_DOCKERFILE = images.BASE_DOCKERFILE + """\
RUN mkdir -p /srv && echo ok > /srv/health
CMD ["httpd", "-f", "-p", "127.0.0.1:5001", "-h", "/srv"]
"""


REPORT: list[tuple[str, float, str]] = []
_TITLES: dict[float, str] = {}


def stage(title: str) -> float:
    print(f"\n== {title}", flush=True)
    start = time.perf_counter()
    _TITLES[start] = title.split(":")[0]
    return start


def done(start: float, detail: str) -> None:
    seconds = time.perf_counter() - start
    REPORT.append((_TITLES.get(start, "?"), seconds, detail))
    print(f"   {detail} ({seconds:.1f} s)", flush=True)


def print_report() -> None:
    width = max(len(name) for name, _, _ in REPORT)
    print("\nstage".ljust(width + 2) + "   time  result")
    for name, seconds, detail in REPORT:
        print(f"{name.ljust(width)} {seconds:6.1f} s  {detail[:90]}")


def cli(*args: str, env: dict[str, str], expect: int = 0) -> str:
    return run_cli(*args, env=env, expect=expect).stdout


def run_cli(*args: str, env: dict[str, str], expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "dify_action", *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != expect:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"demo: `dify-action {args[0]}` exited {result.returncode}, expected {expect}")
    return result


def set_lines(stderr: str) -> list[str]:
    """The Dify release set's lines of a run's log (issue 21): the release, one line per component."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Dify release set:")), len(lines))
    return [lines[start], *(line for line in lines[start + 1:] if line.startswith("  "))][:8] if lines[start:] else []


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def seed_gitops(work: Path, registry: str) -> Path:
    """A bare GitOps repository seeded from examples/gitops, pointing at the demo's registry."""
    seed = work / "gitops-seed"
    shutil.copytree(GITOPS, seed)
    for path in seed.rglob("*.yaml"):
        text = path.read_text()
        if EXAMPLE_REGISTRY in text:
            path.write_text(text.replace(EXAMPLE_REGISTRY, registry))
    bare = work / "gitops.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=work)
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("-c", "user.name=demo", "-c", "user.email=demo@example.com", "commit", "-qm", "Dify GitOps", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def merge(bare: Path, branch: str, work: Path, environment: str) -> None:
    """What a reviewer's merge button does: merge the bump branch into main."""
    start = stage(f"merge {environment}: {branch} (the reviewer approves the PR)")
    clone = work / f"merge-{environment}"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
    git("-c", "user.name=reviewer", "-c", "user.email=reviewer@example.com", "merge", "-q", "--no-ff",
        "-m", f"Merge {branch}", f"origin/{branch}", cwd=clone)
    git("push", "-q", "origin", "main", cwd=clone)
    done(start, f"main is now {git('rev-parse', 'HEAD', cwd=clone).strip()[:12]}")


def deploy(client: object, image: str, port: int, containers: list[object]) -> None:
    """What the staging host's deployer (Portainer, Komodo...) does: replace the compose project's api
    container with one running ``image`` (labelled as docker compose labels it), on the host network."""
    for old in containers:
        old.remove(force=True)  # type: ignore[attr-defined]
    containers.clear()
    containers.append(client.containers.run(  # type: ignore[attr-defined]
        image, detach=True, network_mode="host", environment={"DIFY_PORT": str(port)},
        labels={"com.docker.compose.project": STAGING_PROJECT, "com.docker.compose.service": "api"}))


def with_verify(config: Path, docker_host: str, port: int) -> None:
    """The staging environment's verify section: the compose project on the demo's engine, and the
    Dify api's own /health (the stand-ins answer it with their Dify version, like the real api)."""
    text = config.read_text()
    anchor = "  staging:\n    paths: [overlays/staging]\n    provider: git\n"
    assert anchor in text, text
    config.write_text(text.replace(anchor, anchor + (
        f"    verify:\n      docker: {{project: {STAGING_PROJECT}, host: \"{docker_host}\"}}\n"
        f"      dify: {{url: \"http://127.0.0.1:{port}\"}}\n      timeout: 60s\n      interval: 250ms\n")))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave the Docker engine, the registry and the GitOps "
                        "repository running for inspection, and print how to stop them")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a cancelled CI job (SIGTERM) cleans up like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    env = dict(os.environ)
    bed: Testbed | None = None
    client = None
    staging: list[object] = []  # the containers the staging "host" runs
    work = Path(tempfile.mkdtemp(prefix="dify-action-demo-"))
    try:
        start = stage("setup: Docker engine, registry, stand-in Dify base image")
        if not env.get("DOCKER_HOST") or not env.get("DA_REGISTRY"):
            bed = start_testbed(token_registry=False, base_image=False)
            env.update(bed.env())
        import docker

        client = docker.DockerClient(base_url=env["DOCKER_HOST"])
        with tempfile.TemporaryDirectory(prefix="da-standin-") as context:
            images.busybox_context(Path(context), STANDIN_DOCKERFILE)
            client.images.build(path=context, tag="dify-standin-httpd:demo", network_mode="host", rm=True)
        # Stand-ins with a real /app/api: an Alembic history (1.13.3 has one migration 1.13.2 lacks),
        # constants/dsl_version.py and pyproject.toml, which dify-action reads from the images.
        newest = difyapi.history("1.13.3")
        difyapi.build_api_image(client, "langgenius/dify-api:1.13.3", "1.13.3", base="dify-standin-httpd:demo",
                                health_port=5001)  # GET /health answers its Dify version, like the real api
        difyapi.build_api_image(client, "langgenius/dify-api:1.13.2", "1.13.2", base="dify-standin-httpd:demo",
                                migrations=newest[:-1], health_port=5001)  # the Dify release production runs
        registry = env["DA_REGISTRY"]
        env["DIFY_ACTION_REGISTRY_PASSWORD"] = env["DA_REGISTRY_PASSWORD"]
        done(start, f"docker at {env['DOCKER_HOST']}, registry {registry} (htpasswd auth)")

        config = work / "dify-action.yaml"
        shutil.copytree(EXAMPLE, work / "app")
        config = work / "app" / "dify-action.yaml"
        config.write_text(config.read_text().replace(EXAMPLE_REGISTRY, registry).replace(
            "username: demo", f"username: {env['DA_REGISTRY_USERNAME']}"))
        repository = f"{registry}/acme/dify-api"
        run_number = "42"

        start = stage("history: the images staging (Dify 1.13.3) and production (Dify 1.13.2) run today")
        for dify, tag in (("1.13.2", "1.13.2-acme.40"), ("1.13.3", "1.13.3-acme.41")):
            cli("build", "--config", str(config), "--component", "api", "--build-arg", f"DIFY_VERSION={dify}",
                "--tag", tag, "--registry-username", env["DA_REGISTRY_USERNAME"], env=env)
        done(start, "pushed 1.13.2-acme.40 and 1.13.3-acme.41")

        start = stage("build + push: examples/dify-custom/api (FROM langgenius/dify-api:1.13.3)")
        built = json.loads(cli(
            "build", "--config", str(config), "--component", "api", "--revision", "a" * 40,
            "--ref", "refs/heads/main", "--event", "push", "--run-number", run_number,
            "--registry-username", env["DA_REGISTRY_USERNAME"], "--json", env=env,
        ))
        result = built["components"][0]
        tags, digest = result["tag_names"], result["digest"]
        facts = result["dify"] or {}
        assert facts.get("heads") == [newest[-1].revision], facts
        assert tags[0] == f"1.13.3-acme.{run_number}", tags
        assert digest.startswith("sha256:"), digest
        size = result.get("size") or result.get("size_uncompressed") or 0
        done(start, f"tags {', '.join(tags)}; digest {digest[:19]}...; size {int(size) / 1e6:.1f} MB; "
                    f"{len(facts.get('migrations') or [])} migrations, head {facts['heads'][0]}, DSL "
                    f"{facts.get('dsl_version')} (read from the image, recorded in the registry); "
                    f"SBOM {', '.join(s['format'] for s in result.get('sboms', [])) or 'none'}")

        start = stage("app DSL: apps/*.yml checked against the DSL version of the image just built")
        checked = subprocess.run([sys.executable, "-m", "dify_action", "apps", "check", "--config", str(config),
                                  "--root", str(config.parent), "--image", f"{repository}@{digest}",
                                  "--registry-username", env["DA_REGISTRY_USERNAME"]], env=env,
                                 capture_output=True, text=True)
        print(checked.stdout + checked.stderr, end="")
        assert checked.returncode == 0 and "warning" in checked.stderr, checked.stdout + checked.stderr
        done(start, "1 app imports into this release, with a warning (its DSL is older than the release's)")

        image = f"{repository}:{tags[0]}"
        start = stage(f"smoke test: {image}")
        cli("test", "--config", str(config), "--component", "api", "--image", image, env=env)
        done(start, "HEALTHCHECK healthy, GET /health 200, command passed, container removed")

        start = stage("scan: Dockerfile and image (what this machine offers)")
        # Trivy's vulnerability database cannot be downloaded offline: secret, misconfig and
        # hadolint scanners run for real; vulnerabilities are gated from a report in CI elsewhere.
        scanned = json.loads(cli("scan", "--config", str(config), "--component", "api", "--image", image,
                                 "--offline", "--disable", "vuln", "--json", env=env))["scans"][0]
        findings = scanned.get("findings", [])
        blocking = [f for f in findings if f.get("decision") == "fail"]
        assert not blocking, blocking
        for ran in scanned.get("scanners_run", []):
            print(f"   ran {ran}")
        done(start, f"gate passed: {len(findings)} finding(s), none blocking; skipped: "
                    f"{', '.join(scanned.get('skipped_scanners', [])) or 'vulnerabilities (no DB offline)'}")

        start = stage("record gates: smoke and scan results stored next to the image in the registry")
        cli("gates", "record", "--image", repository, "--digest", digest, "--result", "smoke=passed",
            "--result", "scan=passed", "--registry-username", env["DA_REGISTRY_USERNAME"], env=env)
        done(start, f"tag sha256-{digest[7:19]}....gates pushed (promote refuses images without it)")

        bare = seed_gitops(work, registry)
        url = f"file://{bare}"
        start = stage("bump staging: branch dify-action/staging/... in the local GitOps repository")
        bump_args = ["bump", "--gitops-repo", url, "--base", "main", "--environment", "staging",
                     "--provider", "git", "--push-mode", "branch", "--path", "overlays/staging",
                     "--image", repository, "--tag", tags[0], "--digest", digest,
                     "--registry-username", env["DA_REGISTRY_USERNAME"], "--json"]
        bumped = run_cli(*bump_args, env=env)
        document = json.loads(bumped.stdout)
        delivered = document["bump"]
        assert delivered["operation"] == "pushed", delivered
        dify_set = document["deliveries"][-1]["dify_set"]  # one release set: api beside web, sandbox, plugin-daemon
        assert dify_set["release"] == {"before": "1.13.3", "after": "1.13.3"} and not dify_set["findings"], dify_set
        assert [m["version"] for m in dify_set["after"] if m["role"] == "api"] == ["1.13.3"], dify_set  # facts
        for line in set_lines(bumped.stderr):
            print(f"   {line}")
        branch = delivered["branch"]
        diff = git("diff", "main", branch, cwd=bare)
        print(diff, end="")
        assert f"newTag: {tags[0]}" in diff and f"digest: {digest}" in diff, diff
        done(start, f"{delivered['operation']} {branch} at {delivered['commit'][:12]}, "
                    f"{diff.count('+++ ')} file(s) changed")

        start = stage("bump staging again: idempotent")
        again = json.loads(cli(*bump_args, env=env))["bump"]
        assert again["operation"] in ("unchanged", "none"), again
        assert git("rev-parse", branch, cwd=bare).strip() == delivered["commit"]
        done(start, f"operation {again['operation']}: no new commit, no new branch")

        merge(bare, branch, work, "staging")
        port = 5001  # the customized image's HEALTHCHECK asks 127.0.0.1:5001 (the smoke test's port, free again)
        with_verify(config, env["DOCKER_HOST"], port)
        verify_args = ["verify", "--config", str(config), "--environment", "staging", "--gitops-repo", url,
                       "--registry-username", env["DA_REGISTRY_USERNAME"], "--json"]
        start = stage("deploy staging (stale): the staging host still runs the old release, 1.13.2-acme.40")
        deploy(client, f"{repository}:1.13.2-acme.40", port, staging)
        done(start, f"compose project {STAGING_PROJECT}: api runs {repository}:1.13.2-acme.40 on 127.0.0.1:{port}")
        start = stage("verify staging: does it run what main declares? (it must not pass)")
        failed = json.loads(cli(*verify_args, env=env, expect=1))
        cause = failed["verdict"]["cause"]
        print(f"   {cause}")
        assert not failed["verified"] and f"expected {repository}:{tags[0]} @ {digest[:19]}" in cause, cause
        assert "answers Dify version 1.13.2, expected 1.13.3" in cause, cause
        done(start, f"caught in {failed['verdict']['decided_after']:.1f} s: wrong digest and Dify 1.13.2 instead of "
                    "1.13.3; recorded as failed")
        start = stage(f"deploy staging: the deployer pulls {tags[0]}")
        deploy(client, f"{repository}:{tags[0]}", port, staging)
        done(start, f"api runs {repository}:{tags[0]}")
        start = stage("verify staging: image digest on the engine, HEALTHCHECK, Dify's /health version")
        verified = json.loads(cli(*verify_args, env=env))
        assert verified["verified"] and verified["recorded"] == [f"{repository}@{digest}"], verified
        for observation in verified["verdict"]["observations"]:
            print(f"   {observation['source']} {observation['subject']}: {observation['detail']}")
        done(start, f"verified at {verified['revision'][:12]} after {verified['verdict']['rounds']} reading(s); "
                    f"tag sha256-{digest[7:19]}....verify pushed (promote requires it)")
        promote_args = ["promote", "--gitops-repo", url, "--from-environment", "staging", "--to-environment",
                        "production", "--from-path", "overlays/staging", "--to-path", "overlays/production",
                        "--provider", "git", "--push-mode", "branch", "--registry-tag", "production",
                        "--registry-username", env["DA_REGISTRY_USERNAME"], "--json"]
        start = stage("promote staging -> production: the whole Dify 1.13.3 set travels (api, web, sandbox, "
                      "plugin-daemon)")
        refused = run_cli(*promote_args, env=env, expect=1)
        reason = json.loads(refused.stdout)["error"]["message"]
        print(f"   {reason}")
        assert "plugin-daemon moves back from 0.5.4-local to 0.5.3-local" in reason and "dify_plugin" in reason, reason
        assert not git("branch", "--list", "dify-action/production/*", cwd=bare).strip(), "a refused promote pushed"
        done(start, "refused: Dify 1.13.3 pairs plugin-daemon 0.5.3-local, a downgrade of production's 0.5.4-local "
                    "whose dify_plugin database cannot migrate down; nothing pushed")
        start = stage("promote again, after backing up dify_plugin: --allow-version-skew (registry tag copy + "
                      "bump branch)")
        promoted = json.loads(cli(*promote_args, "--allow-version-skew", env=env))["promote"]
        assert promoted["operation"] == "pushed", promoted
        promote_diff = git("diff", "main", promoted["branch"], cwd=bare)
        assert f"newTag: {tags[0]}" in promote_diff and "+    newTag: 0.5.3-local" in promote_diff, promote_diff
        done(start, f"{promoted['branch']} at {promoted['commit'][:12]}; "
                    f"{repository}:production now points at {digest[:19]}...")

        merge(bare, promoted["branch"], work, "production")
        rollback_args = ["rollback", "--gitops-repo", url, "--environment", "production",
                         "--path", "overlays/production", "--provider", "git", "--push-mode", "branch",
                         "--registry-username", env["DA_REGISTRY_USERNAME"], "--json"]
        start = stage("rollback production: the migration guard reads both images' Alembic graphs")
        result = subprocess.run([sys.executable, "-m", "dify_action", *rollback_args], env=env,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 1, result
        stranded = newest[-1]
        assert stranded.revision in result.stderr and stranded.slug in result.stderr, result.stderr
        assert "dify_plugin" in result.stderr, result.stderr
        print("   " + result.stderr.strip().replace("\n", "\n   "))
        branches = git("branch", "--list", "dify-action/production/rollback*", cwd=bare)
        assert not branches.strip(), f"a refused rollback pushed {branches}"
        done(start, f"refused: migration {stranded.revision} ({stranded.slug}) would be stranded; nothing pushed")

        start = stage("rollback production again, after backing up dify and dify_plugin: --allow-schema-rollback")
        rolled = json.loads(cli(*rollback_args, "--allow-schema-rollback", env=env))["rollback"]
        assert rolled["operation"] == "pushed", rolled
        rollback_diff = git("diff", "main", rolled["branch"], cwd=bare)
        print(rollback_diff, end="")
        assert f"-    newTag: {tags[0]}" in rollback_diff and "+    newTag: 1.13.2-acme.40" in rollback_diff
        done(start, f"{rolled.get('method', 'revert')} on {rolled['branch']} at {rolled['commit'][:12]}")
        print_report()
        print("\ndemo: all stages passed")
        return 0
    except KeyboardInterrupt:
        print("\ndemo: interrupted; stopping what it started", file=sys.stderr)
        args.keep = False
        return 130
    finally:
        for container in staging:
            if not args.keep:
                container.remove(force=True)  # type: ignore[attr-defined]
        if client is not None and not args.keep:
            client.close()
        if args.keep:
            print(f"\ndemo: kept the GitOps repository {work / 'gitops.git'} and the work dir {work}")
            if bed is not None:
                print(f"demo: Docker engine {env['DOCKER_HOST']}, registry {env['DA_REGISTRY']} "
                      f"(user {env['DA_REGISTRY_USERNAME']}); stop them with:\n"
                      f"  .venv/bin/python -m tests.testbed down {bed.root} && rm -rf {work}")
        else:
            if bed is not None:
                stop_testbed(bed, remove=True)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
