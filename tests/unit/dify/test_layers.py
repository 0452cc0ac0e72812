"""Choosing the layers that may hold /app/api from an image's history, and applying whiteouts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.dify.layers import apply_layer, plan_layers
from dify_action.errors import DifyActionError
from dify_action.registry import OCI_MANIFEST, Manifest, compute_digest

# The shape of the official dify-api history (BuildKit) with a customization on top.
OFFICIAL = [
    ("ADD file:4b1be1de1a1e5aa608c688cad2824587262081866180a7368dd2e4c9e0cdbd2c in / ", False),
    ("CMD [\"bash\"]", True),
    ("RUN /bin/sh -c set -eux; apt-get update; apt-get install -y --no-install-recommends ca-certificates "
     "# buildkit", False),
    ("ENV PYTHON_VERSION=3.12.8", True),
    ("WORKDIR /app/api", True),
    ("RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl nodejs libgmp-dev "
     "# buildkit", False),
    ("COPY /app/api/.venv /app/api/.venv # buildkit", False),
    ("RUN /bin/sh -c python -c \"import tiktoken_ext.openai_public as t; t.cl100k_base()\" # buildkit", False),
    ("COPY . /app/api/ # buildkit", False),
    ("COPY docker/entrypoint.sh /entrypoint.sh # buildkit", False),
    ("ENTRYPOINT [\"/bin/bash\", \"/entrypoint.sh\"]", True),
    ("RUN /bin/sh -c pip install boto3 # buildkit", False),  # the customization: no /app/api file
    ("/bin/sh -c #(nop) COPY file:9f86d081884c7d659a2feaa0c55ad015 in /app/api/migrations/versions/ ", False),
    ("/bin/sh -c rm migrations/versions/old_x.py", False),  # relative to WORKDIR /app/api
]
CHOSEN = [0, 8, 12, 13]  # indexes in OFFICIAL of the layers that may hold the watched paths


def image(history: list[tuple[str, bool]]) -> tuple[Manifest, dict[str, object]]:
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{i:064x}",
               "size": 100 + i} for i, (_, empty) in enumerate(history) if not empty]
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers}).encode()
    config = {"history": [{"created_by": c, **({"empty_layer": True} if e else {})} for c, e in history]}
    return Manifest(OCI_MANIFEST, compute_digest(body), body), config


def test_the_code_layers_are_chosen_not_the_virtualenv_or_apt() -> None:
    manifest, config = image(OFFICIAL)
    plan = plan_layers(manifest, config)
    assert plan.by_history and plan.total == 10
    assert [layer.digest for layer in plan.layers] == [f"sha256:{i:064x}" for i in CHOSEN]


def test_a_history_that_does_not_map_reads_every_layer_and_a_non_api_image_is_refused() -> None:
    manifest, config = image(OFFICIAL)
    config["history"] = config["history"][:-1]  # type: ignore[index]
    assert not plan_layers(manifest, config).by_history
    web, web_config = image([("ADD file:abc in / ", False), ("WORKDIR /app/web", True),
                             ("COPY . /app/web # buildkit", False)])
    with pytest.raises(DifyActionError, match="not a Dify api image"):
        plan_layers(web, web_config)


paths = st.sampled_from([f"/app/api/migrations/versions/{n}.py" for n in "abcde"] + ["/app/api/pyproject.toml"])
layer = st.lists(st.tuples(paths, st.one_of(st.none(), st.binary(max_size=3))), max_size=6)


@given(st.lists(layer, max_size=5))
def test_apply_layer_matches_a_model_filesystem(layers: list[list[tuple[str, bytes | None]]]) -> None:
    state: dict[str, bytes] = {}
    model: dict[str, bytes] = {}
    for changes in layers:
        state = apply_layer(state, changes)
        hidden = {p for p, d in changes if d is None}
        model = {p: d for p, d in model.items() if p not in hidden} | {p: d for p, d in changes if d is not None}
        assert state == model
    opaque = apply_layer(state, [("/app/api/migrations/versions/", None), ("/app/api/migrations/versions/z.py", b"")])
    assert [p for p in opaque if "/versions/" in p] == ["/app/api/migrations/versions/z.py"]
