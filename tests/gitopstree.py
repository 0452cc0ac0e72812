"""The GitOps tree the delivery tests and benchmarks seed: staging and production deployments of
dify-api and dify-web, and some unrelated services."""

from __future__ import annotations

API_DEPLOYMENT = """\
# dify-api: api and worker share one image
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dify-api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: 127.0.0.1:5000/acme/dify-api:1.13.3   # runs flask upgrade-db
      containers:
        - name: api
          image: "127.0.0.1:5000/acme/dify-api:1.13.3"
          ports:
            - containerPort: 5001
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dify-worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: 127.0.0.1:5000/acme/dify-api:1.13.3
          env:
            - name: MODE
              value: worker
"""

WEB_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dify-web
spec:
  template:
    spec:
      containers:
        - name: web
          image: 127.0.0.1:5000/acme/dify-web:1.13.3
"""


def deployment(name: str, image: str, container: str | None = None) -> str:
    """A Deployment ``name`` running ``image`` in one container (named ``container``, else ``name``)."""
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n"
        f"    spec:\n      containers:\n        - name: {container or name}\n"
        f"          image: {image}\n"
    )


def service(name: str, tag: str = "1.0.0") -> str:
    return deployment(name, f"127.0.0.1:5000/acme/{name}:{tag}")


def gitops_files(services: int = 10) -> dict[str, str]:
    files = {
        "README.md": "GitOps repository of the test bed\n",
        "environments/staging/dify-api.yaml": API_DEPLOYMENT,
        "environments/staging/dify-web.yaml": WEB_DEPLOYMENT,
        "environments/production/dify-api.yaml": API_DEPLOYMENT,
        "environments/production/dify-web.yaml": WEB_DEPLOYMENT,
    }
    for i in range(services):
        files[f"environments/staging/services/svc-{i}.yaml"] = service(f"svc-{i}")
    return files
