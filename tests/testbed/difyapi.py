"""Stand-in dify-api images with a realistic /app/api: an Alembic history, the DSL version, pyproject.

The history has Dify's shape: older files named ``<rev>_<slug>.py``, newer ones
``YYYY_MM_DD_HHMM-<rev>_<slug>.py``, one written in the annotated style of newer Alembic templates,
and a merge revision (``down_revision`` a tuple) joining two branches. Ids are 12 hex digits made
from the slug, so every release below shares the revisions it has in common.

Releases:
- 1.13.2 and 1.13.3: different versions, the same history (same head);
- 1.13.3-acme.1: a patch build of 1.13.3 that adds one migration (its own layer on top);
- 1.14.0: two branches off 1.13.3's head and the merge revision joining them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .images import BASE_IMAGE, busybox_context

OLD = ["init", "add_app_model_config", "add_api_tokens", "add_dataset_keywords", "add_message_files",
       "add_tool_providers", "add_workflow_tables", "add_workflow_run_index", "add_end_users_session",
       "add_conversation_variables"]
NEW = [("2025_01_14_0617", "add_workflow_draft_variables"), ("2025_03_28_1502", "add_plugin_permissions"),
       ("2025_06_02_0930", "add_app_triggers"), ("2025_09_17_1145", "add_workflow_node_execution_offload")]
V14_LEFT, V14_RIGHT, V14_MERGE = ("2025_11_03_1010", "add_rag_pipeline_tables"), \
    ("2025_11_04_0800", "add_end_user_oauth"), ("2025_11_10_1200", "merge_rag_pipeline_and_oauth")
PATCH = "acme_add_audit_log"


def rev(slug: str) -> str:
    return hashlib.sha256(slug.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Migration:
    file: str
    revision: str
    down: str | tuple[str, ...] | None
    slug: str
    annotated: bool = False

    def text(self) -> str:
        down = repr(self.down)
        if self.annotated:
            return (f'"""{self.slug.replace("_", " ")}\n\nRevision ID: {self.revision}\nRevises: {self.down}\n"""\n'
                    "from typing import Sequence, Union\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n"
                    f"revision: str = {self.revision!r}\ndown_revision: Union[str, Sequence[str], None] = {down}\n"
                    "branch_labels: Union[str, Sequence[str], None] = None\ndepends_on = None\n\n\n"
                    "def upgrade() -> None:\n    op.add_column('apps', sa.Column('x', sa.String()))\n\n\n"
                    "def downgrade() -> None:\n    op.drop_column('apps', 'x')\n")
        return (f'"""{self.slug.replace("_", " ")}\n\nRevision ID: {self.revision}\nRevises: {self.down}\n"""\n'
                f"import sqlalchemy as sa\nfrom alembic import op\n\n# revision identifiers, used by Alembic.\n"
                f"revision = {self.revision!r}\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\n"
                "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n")


def _chain() -> list[Migration]:
    out: list[Migration] = []
    down: str | None = None
    for slug in OLD:
        out.append(Migration(f"{rev(slug)}_{slug}.py", rev(slug), down, slug))
        down = rev(slug)
    for index, (date, slug) in enumerate(NEW):
        out.append(Migration(f"{date}-{rev(slug)}_{slug}.py", rev(slug), down, slug, annotated=index == 1))
        down = rev(slug)
    return out


def history(version: str) -> list[Migration]:
    """The migrations/versions files of a stand-in release (see the module docstring)."""
    base = _chain()
    head = base[-1].revision
    if version in ("1.13.2", "1.13.3"):
        return base
    if version == "1.13.3-acme.1":
        return [*base, patch_migration()]
    if version == "1.14.0":
        left, right = (Migration(f"{d}-{rev(s)}_{s}.py", rev(s), head, s) for d, s in (V14_LEFT, V14_RIGHT))
        date, slug = V14_MERGE
        merge = Migration(f"{date}-{rev(slug)}_{slug}.py", rev(slug), (left.revision, right.revision), slug)
        return [*base, left, right, merge]
    raise ValueError(version)


def patch_migration() -> Migration:
    return Migration(f"{rev(PATCH)}_{PATCH}.py", rev(PATCH), _chain()[-1].revision, PATCH)


def dsl_version(version: str) -> str:
    return "0.6.0" if version.startswith("1.14") else "0.5.0"


def api_tree(root: Path, version: str, migrations: list[Migration]) -> Path:
    api = root / "api"
    (api / "migrations" / "versions").mkdir(parents=True)
    (api / "constants").mkdir()
    for migration in migrations:
        (api / "migrations" / "versions" / migration.file).write_text(migration.text())
    (api / "migrations" / "env.py").write_text("# alembic env (not a revision)\n")
    (api / "constants" / "__init__.py").write_text("")
    (api / "constants" / "dsl_version.py").write_text(f'CURRENT_APP_DSL_VERSION = "{dsl_version(version)}"\n')
    (api / "pyproject.toml").write_text(f'[project]\nname = "dify-api"\nversion = "{version.split("-")[0]}"\n'
                                        'requires-python = ">=3.11,<3.13"\n')
    return api


def health_lines(version: str, port: int) -> str:
    """Dockerfile lines that make a busybox stand-in answer like Dify's api: ``GET /health`` ->
    ``{"pid": 1, "status": "ok", "version": VERSION}`` on 127.0.0.1:$DIFY_PORT (default ``port``;
    host networking: a run picks a free one), with a HEALTHCHECK."""
    body = json.dumps({"pid": 1, "status": "ok", "version": version.split("-")[0]})
    return (f"RUN mkdir -p /srv && printf '%s' '{body}' > /srv/health\n"
            f"ENV DIFY_PORT={port}\n"
            "HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD wget -q -O /dev/null "
            "http://127.0.0.1:$DIFY_PORT/health\n"
            'CMD exec httpd -f -p 127.0.0.1:$DIFY_PORT -h /srv\n')


def build_api_image(client: Any, tag: str, version: str, *, base: str = BASE_IMAGE,
                    migrations: list[Migration] | None = None, health_port: int | None = None) -> str:
    """A stand-in api image of ``version``, built on the busybox base; the patch build is the 1.13.3
    stand-in plus one COPY of its migration, as a customization would add it. ``migrations``
    replaces the release's history (the demo's 1.13.2 lacks 1.13.3's last one). With
    ``health_port`` it serves Dify's ``/health`` there (verify reads it). Returns ``tag``."""
    with tempfile.TemporaryDirectory(prefix="da-api-") as temp:
        root = Path(temp)
        if version == "1.13.3-acme.1":
            parent = build_api_image(client, f"{tag}-parent", "1.13.3", base=base)
            patch = patch_migration()
            (root / patch.file).write_text(patch.text())
            dockerfile = (f"FROM {parent}\nCOPY {patch.file} /app/api/migrations/versions/\n"
                          f"LABEL io.dify.base-version={version}\n")
            (root / "Dockerfile").write_text(dockerfile)
            context = root
        else:
            dockerfile = (f"FROM {base}\nWORKDIR /app/api\nCOPY api/ /app/api/\n"
                          "RUN echo pip install boto3 > /tmp/pip.log\n"
                          f"LABEL io.dify.base-version={version}\n"
                          + (health_lines(version, health_port) if health_port else ""))
            context = busybox_context(root, dockerfile)
            api_tree(root, version, history(version) if migrations is None else migrations)
        client.images.build(path=str(context), tag=tag, network_mode="host", rm=True)
    return tag
