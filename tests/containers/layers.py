"""Reading an image's layers as podman saves them (docker-archive: manifest.json names one tar per layer)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tallyhold_provision.podman.engine import podman


@dataclass(frozen=True)
class LayerFile:
    layer: int
    path: str
    data: bytes | None  # None for directories, links and files not read


def save(image: str, directory: Path) -> Path:
    archive = directory / "image.tar"
    podman("save", "--format", "docker-archive", "--output", str(archive), image)
    return archive


def layer_files(archive: Path, *, read_up_to: int = 4 * 1024 * 1024) -> Iterator[LayerFile]:
    """Every entry of every layer, with the content of regular files no larger than `read_up_to`."""
    with tarfile.open(archive) as outer:
        manifest = json.loads(_read(outer, "manifest.json"))
        for index, layer_name in enumerate(manifest[0]["Layers"]):
            member = outer.extractfile(layer_name)
            assert member is not None
            with tarfile.open(fileobj=member, mode="r|*") as layer:
                for entry in layer:
                    data = None
                    if entry.isfile() and entry.size <= read_up_to:
                        handle = layer.extractfile(entry)
                        data = handle.read() if handle is not None else None
                    yield LayerFile(index, entry.name.removeprefix("./"), data)


def layer_count(archive: Path) -> int:
    with tarfile.open(archive) as outer:
        return len(json.loads(_read(outer, "manifest.json"))[0]["Layers"])


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    assert handle is not None
    return handle.read()
