"""Issue 21: the Dify release-set policy of a run, from the inputs and the config (one precedence)."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from dify_action.errors import InputError
from dify_action.releaseset.policy import SetPolicy

if TYPE_CHECKING:
    from dify_action.config.load import Config


def set_policy(allow_skew: bool | None, release: str | None, cfg: Config | None, environment: str | None, *,
               command: str, check: bool = False) -> SetPolicy:
    """``allow-version-skew`` (input > config > false), the release to move to (bump: ``dify-release``;
    the pipeline: the config's ``dify.release``, else the built api's version when it changes), the
    target environment's ``start-migrations`` and the config's customized components (repository -> role)."""
    from dify_action.releaseset.members import guess_role

    pipeline = command == "pipeline"  # also a check of the pipeline's requests (``check``)
    if release is not None:
        if command != "bump" and not check:
            raise InputError("dify-release", release, "only with bump (the pipeline reads dify.release from the "
                             "config)")
        release = _checked(release)
    elif pipeline and cfg is not None and cfg.dify.release:
        release = _checked(cfg.dify.release, "dify.release")
    env = cfg.environments.get(environment) if cfg is not None and environment else None
    customized = {}
    for component in cfg.components if cfg is not None else ():
        role = guess_role(component.name) or guess_role(component.image.path)
        if role is not None:
            customized[component.image.match_key] = role
    skew = allow_skew if allow_skew is not None else bool(cfg and cfg.dify.allow_version_skew)
    return SetPolicy(allow_skew=skew, release=release,
                     start_migrations=env.start_migrations if env is not None else "warn",
                     customized=MappingProxyType(customized), follow_api=pipeline)


def _checked(release: str, name: str = "dify-release") -> str:
    from dify_action.releaseset.move import check_release  # with the pairing table: only when a release is named

    return check_release(release, name)
