"""A tiny application repository for pipeline tests: a dify-action.yaml and an api Dockerfile that
build offline on the stand-in base, pass the smoke test and pass the real Trivy/hadolint scanners."""

from __future__ import annotations

from pathlib import Path

SMOKE = "test -f /app/api/acme.txt"

CONFIG = """\
version: 1
registry:
  host: {registry}
components:
  - name: api
    image: {registry}/acme/dify-api
    context: api
    dockerfile: api/Dockerfile
tags:
  rules:
    - type=dify,suffix=-acme.{{{{run_number}}}}
    - type=sha
smoke:
  api:
    healthcheck: false
    commands:
      - {smoke}
    timeout: 30s
scan:
  # Trivy and hadolint run for real; the vulnerability DB cannot be downloaded offline, so the
  # vulnerability scanner is off here (it is gated from reports elsewhere).
  scanners: {{vuln: false}}
"""

API_DOCKERFILE = """\
FROM langgenius/dify-api:1.13.3
RUN echo acme > /app/api/acme.txt
USER 1001:1001
CMD ["sleep", "300"]
"""


def write_app_source(workspace: Path, registry_host: str, smoke: str = SMOKE) -> Path:
    """Write the repository into ``workspace``; return the path of its dify-action.yaml."""
    (workspace / "api").mkdir(parents=True)
    (workspace / "api" / "Dockerfile").write_text(API_DOCKERFILE)
    config = workspace / "dify-action.yaml"
    config.write_text(CONFIG.format(registry=registry_host, smoke=smoke))
    return config
