"""A pinned Trivy vulnerability database (issue 20): fetched by digest with our registry client,
verified, unpacked where Trivy looks, and refused when it is not the one pinned.

Trivy downloads its DB itself by a moving tag (``trivy-db:2``); a compromised mirror or channel
could serve another one. With ``--trivy-db REGISTRY/REPO@sha256:...`` the scan fetches that one
manifest (its bytes hash to the pin, or the client refuses them), streams its one DB layer through
a hash (a layer that does not match its descriptor is refused), unpacks ``trivy.db`` and
``metadata.json`` into ``<cache>/db`` and marks the directory with the pin; Trivy then runs with
``--skip-db-update``. A cache marked with another pin, or not marked at all, is never used.
OCI layout of the DB: https://github.com/aquasecurity/trivy-db (media type below).
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path

from dify_action import refs
from dify_action.errors import DifyActionError, InputError, RegistryError
from dify_action.registry import RegistryClient

DB_LAYER = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
MARKER = "dify-action.pin"
_FILES = ("trivy.db", "metadata.json")


def parse_pin(text: str) -> refs.ImageRef:
    """``registry/repo@sha256:<hex>`` (a tag is not a pin)."""
    ref = refs.parse(text, input_name="trivy-db")
    if not ref.digest:
        raise InputError("trivy-db", text, "the DB artifact pinned by digest, e.g. "
                         "ghcr.io/aquasecurity/trivy-db@sha256:<hex> (a tag can move)")
    return ref


def cached_pin(cache_dir: Path) -> str | None:
    marker = cache_dir / "db" / MARKER
    return marker.read_text().strip() if marker.is_file() else None


def ensure_db(client: RegistryClient, pin: refs.ImageRef, cache_dir: Path) -> Path:
    """The DB directory for ``pin``: reused when marked with it, else fetched and verified."""
    assert pin.digest is not None
    db_dir = cache_dir / "db"
    if cached_pin(cache_dir) == pin.digest and all((db_dir / name).is_file() for name in _FILES):
        return db_dir
    manifest = client.get_manifest(pin.remote_path, pin.digest)  # the bytes must hash to the pin
    layers = [layer for layer in manifest.document.get("layers") or [] if layer.get("mediaType") == DB_LAYER]
    if len(layers) != 1:
        raise RegistryError(f"{pin} is not a Trivy vulnerability database (no single {DB_LAYER} layer)",
                            hint="pin the digest of the trivy-db artifact itself")
    expected = str(layers[0]["digest"])
    with tempfile.TemporaryDirectory(prefix="dify-action-db-", dir=cache_dir) as temp:
        archive = Path(temp) / "db.tar.gz"
        hasher = hashlib.sha256()
        with client.open_blob(pin.remote_path, expected) as stream, archive.open("wb") as out:
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if f"sha256:{hasher.hexdigest()}" != expected:
            raise RegistryError(f"the vulnerability database layer of {pin} does not match its digest {expected}",
                                hint="refusing it: the registry or a proxy served other bytes than the pinned DB")
        staged = Path(temp) / "db"
        staged.mkdir()
        _unpack(archive, staged)
        (staged / MARKER).write_text(pin.digest + "\n")
        shutil.rmtree(db_dir, ignore_errors=True)
        staged.rename(db_dir)
    return db_dir


def refuse_unpinned(cache_dir: Path, pin: str) -> None:
    """Before a scan that uses the cache: the DB there must be the pinned one."""
    found = cached_pin(cache_dir)
    if found != pin:
        raise DifyActionError(f"the vulnerability database in {cache_dir} is {found or 'not a pinned one'}, "
                              f"not the pinned {pin}: refusing to scan with it",
                              hint="let dify-action fetch the pinned DB (--trivy-db REPO@DIGEST) into an empty cache")


def _unpack(archive: Path, target: Path) -> None:
    """Only the DB's two regular files, by plain names (no path a tar could use to escape)."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")
            if name not in _FILES or not member.isfile():
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, (target / name).open("wb") as out:
                shutil.copyfileobj(source, out)
    missing = [name for name in _FILES if not (target / name).is_file()]
    if missing:
        raise RegistryError(f"the vulnerability database archive lacks {', '.join(missing)}",
                            hint="pin the digest of the trivy-db artifact itself")
