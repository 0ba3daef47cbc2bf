"""Who may write what into the catalog: tokens scoped to namespaces and dataset names.

A tokens file gives each writer (a domain team, an integration) a token and
the namespaces and names it may write, as shell-style patterns:

```yaml
sales:
  sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
  writes:
    "lakemesh://*": ["sales.*"]   # its products (outputs)
    lakemesh: ["sales.*"]         # its jobs
```

An event is accepted when its job and every dataset it writes (its outputs)
fall inside the token's scope; what it reads is not restricted. Only the
token's SHA-256 is kept in the file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from lakemesh.catalog.symlinks import product_symlink
from lakemesh.errors import LakemeshError

__all__ = ["WriteScope", "catalog_token", "load_write_scopes"]


@dataclass(frozen=True, kw_only=True)
class WriteScope:
    """One writer's token (its SHA-256) and the namespace -> name patterns it may write."""

    writer: str
    sha256: str
    writes: Mapping[str, tuple[str, ...]]

    def holds(self, token: str) -> bool:
        return secrets.compare_digest(hashlib.sha256(token.encode()).hexdigest(), self.sha256)

    def allows(self, namespace: str, name: str) -> bool:
        return any(
            fnmatchcase(namespace, pattern) and any(fnmatchcase(name, allowed) for allowed in names)
            for pattern, names in self.writes.items()
        )

    def refusal(self, event: Mapping[str, Any]) -> str | None:
        """Why this writer may not post `event` (a valid run event), or None when it may."""
        job = event["job"]
        written = [("job", job["namespace"], job["name"])]
        # a storage-named output is the product its symlink names: that is what the event writes, and checked
        written += [
            ("dataset", *(product_symlink(d) or (d["namespace"], d["name"]))) for d in event.get("outputs") or []
        ]
        for kind, namespace, name in written:
            if not self.allows(namespace, name):
                return f"the token of {self.writer!r} may not write {kind} {name!r} in namespace {namespace!r}"
        return None


def load_write_scopes(path: Path) -> list[WriteScope]:
    """Read a tokens file; a malformed one is refused whole, naming the entry and what is wrong."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise LakemeshError(f"catalog tokens file {path}: {error}") from None
    if not isinstance(document, dict) or not document:
        raise LakemeshError(f"catalog tokens file {path}: expected a mapping of writer -> {{sha256, writes}}")
    scopes = []
    for writer, entry in document.items():
        where = f"catalog tokens file {path}, writer {writer!r}"
        if not isinstance(entry, dict) or set(entry) != {"sha256", "writes"}:
            raise LakemeshError(f"{where}: expected exactly the keys 'sha256' and 'writes'")
        digest, writes = entry["sha256"], entry["writes"]
        if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise LakemeshError(f"{where}: 'sha256' must be the 64 hex digits of the token's SHA-256")
        if not isinstance(writes, dict) or not all(
            isinstance(names, list) and names and all(isinstance(n, str) for n in names) for names in writes.values()
        ):
            raise LakemeshError(f"{where}: 'writes' maps each namespace pattern to a non-empty list of name patterns")
        scopes.append(
            WriteScope(writer=str(writer), sha256=digest, writes={str(k): tuple(v) for k, v in writes.items()})
        )
    return scopes


def catalog_token(path: Path) -> str:
    """The served catalog's own write token, kept in `path`: made once (random, 256 bits), readable by its owner
    only, so a `catalog serve` with no token configured still refuses anonymous writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        descriptor = None
    if descriptor is None:
        token = path.read_text().strip()
        if not token:
            raise LakemeshError(f"the catalog's token file {path} is empty; remove it to have a new token made")
        return token
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return token
