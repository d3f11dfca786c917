"""The tracker's container image: `make image` and the tests build it here, with podman, from the checkout.

No container registry is reachable on the machines this project is built and tested on, so the base is made
from Debian's own packages with mmdebstrap (Python 3.11 and the CA certificates, docs and locales left out) and
imported into podman as `localhost/tallyhold-base:<suite>-<hash of the recipe>`: built once per machine and
recipe, reused by every later build. The builder stages get the same base plus binutils (`strip`), made in the
same go, as `localhost/tallyhold-builder:<same tag>`; nothing of it reaches the tracker image. uv reaches the
builder stage as `localhost/tallyhold-uv:<version>`, an image holding only the checkout's own uv binary (pinned
by hash in tools/uv-requirements.txt). The Containerfile's defaults (the official slim Python image by digest,
the official uv image) are for builders with a registry.

    python -m tallyhold_provision.podman.image [--tag TAG] [--label KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.podman.engine import PodmanError, exists, podman

IMAGE_REPOSITORY = "localhost/tallyhold"
BASE_REPOSITORY = "localhost/tallyhold-base"
BUILDER_REPOSITORY = "localhost/tallyhold-builder"
UV_REPOSITORY = "localhost/tallyhold-uv"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# The base's recipe: an `essential` system (no apt, no compiler) plus CPython, the CA certificates and the C++
# runtime that manylinux wheels may link to (greenlet), without documentation, translations or glibc's iconv
# converters (Python decodes with its own codecs). /usr is merged by mmdebstrap's own hook: otherwise bookworm
# installs the `usrmerge` package to do it, and perl with it (47 MB nothing runs). Changing the recipe changes
# the base's tag, so the next build makes a new one.
PACKAGES = ("python3", "ca-certificates", "libstdc++6")
BUILDER_PACKAGES = ("binutils",)  # `strip`, for the builder stage only
MMDEBSTRAP_OPTIONS = (
    "--variant=essential",
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/lib/*/gconv/*",
)
# An imported tarball has no configuration at all: PATH must be set for the builder's `python3` and `sh`.
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Mounted for the builder's RUN steps only (never copied into a layer): lets uv reach PyPI through a
# TLS-intercepting proxy whose CA the host trusts.
BUILD_CA_PATH = "/run/tallyhold-build-ca.crt"


def tracker_version(root: Path | None = None) -> str:
    """The version in services/tracker/pyproject.toml: the image's tag."""
    pyproject = (root or checkout_root()) / "services" / "tracker" / "pyproject.toml"
    version: str = tomllib.loads(pyproject.read_text())["project"]["version"]
    return version


def image_ref(tag: str | None = None) -> str:
    return f"{IMAGE_REPOSITORY}:{tag or tracker_version()}"


def _recipe_tag() -> str:
    recipe = "\n".join((SUITE, MIRROR, *PACKAGES, *BUILDER_PACKAGES, *MMDEBSTRAP_OPTIONS, BASE_PATH))
    return f"{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def base_ref() -> str:
    return f"{BASE_REPOSITORY}:{_recipe_tag()}"


def builder_ref() -> str:
    return f"{BUILDER_REPOSITORY}:{_recipe_tag()}"


def _mmdebstrap(packages: tuple[str, ...], tarball: Path) -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments from this module
        ["mmdebstrap", "--quiet", f"--include={','.join(packages)}", *MMDEBSTRAP_OPTIONS, SUITE, str(tarball), MIRROR],  # noqa: S607 - apt tool on PATH
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PodmanError(f"mmdebstrap failed ({result.returncode}): {result.stderr.strip()[-1500:]}")


def _python_version(ref: str) -> str:
    return podman("run", "--rm", "--network", "none", ref, "python3", "-VV").stdout.strip()


def ensure_base() -> tuple[str, str]:
    """The Debian base image and its builder twin, made with mmdebstrap unless this machine has them already.

    Both are made in one go from the same mirror; the builder's CPython must be the base's (the virtualenv built
    on the one runs on the other), which is checked rather than assumed (the mirror may move between the two)."""
    ref, builder = base_ref(), builder_ref()
    if exists("image", ref) and exists("image", builder):
        return ref, builder
    with tempfile.TemporaryDirectory(prefix="tallyhold-base-") as tmp:
        for image, packages in ((ref, PACKAGES), (builder, PACKAGES + BUILDER_PACKAGES)):
            tarball = Path(tmp) / "rootfs.tar"
            _mmdebstrap(packages, tarball)
            podman("import", "--change", f"ENV PATH={BASE_PATH}", str(tarball), image)
            tarball.unlink()
    if _python_version(ref) != _python_version(builder):
        podman("rmi", ref, builder, check=False)
        raise PodmanError("the Debian mirror changed Python between the base and its builder; build again")
    return ref, builder


def uv_binary(root: Path) -> Path:
    return root / ".tools" / "bin" / "uv"


def ensure_uv_image(root: Path) -> str:
    """An image holding /uv: the checkout's own uv binary, so the builder needs no registry to get it."""
    binary = uv_binary(root)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    ref = f"{UV_REPOSITORY}:{digest}"
    if exists("image", ref):
        return ref
    with tempfile.TemporaryDirectory(prefix="tallyhold-uv-") as tmp:
        context = Path(tmp)
        (context / "uv").write_bytes(binary.read_bytes())
        (context / "uv").chmod(0o755)
        (context / "Containerfile").write_text("FROM scratch\nCOPY uv /uv\n")
        podman("build", "--quiet", "-t", ref, str(context))
    return ref


def revision(root: Path) -> str:
    result = subprocess.run(  # noqa: S603 - git with fixed arguments
        ["git", "-C", str(root), "rev-parse", "HEAD"],  # noqa: S607 - git on PATH, fixed arguments
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def source_url(root: Path) -> str:
    result = subprocess.run(  # noqa: S603 - git with fixed arguments
        ["git", "-C", str(root), "remote", "get-url", "origin"],  # noqa: S607 - git on PATH, fixed arguments
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


@dataclass(frozen=True)
class BuildRequest:
    tag: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    quiet: bool = True
    no_cache: bool = False  # every layer built again (the base, uv's download cache and the uv image are kept)


def build(request: BuildRequest | None = None, root: Path | None = None) -> str:
    """Build the tracker image from the checkout (layers reused) and return its reference."""
    request = request or BuildRequest()
    root = root or checkout_root()
    ref = image_ref(request.tag)
    base, builder = ensure_base()
    args = [
        "build",
        "--format=docker",  # the OCI image format has no HEALTHCHECK
        "--layers",
        "--file",
        str(root / "Containerfile"),
        "--tag",
        ref,
        "--build-arg",
        f"BASE={base}",
        "--build-arg",
        f"BUILDER_BASE={builder}",
        "--build-arg",
        f"UV_IMAGE={ensure_uv_image(root)}",
        "--build-arg",
        f"VERSION={tracker_version(root)}",
        "--build-arg",
        f"REVISION={revision(root)}",
        "--build-arg",
        f"SOURCE={source_url(root)}",
    ]
    ca_bundle = os.environ.get("SSL_CERT_FILE") or os.environ.get("PIP_CERT")
    if ca_bundle and Path(ca_bundle).is_file():
        args += [
            "--volume",
            f"{Path(ca_bundle).resolve()}:{BUILD_CA_PATH}:ro",
            "--build-arg",
            f"BUILD_CA_FILE={BUILD_CA_PATH}",
        ]
    for key, value in request.labels.items():
        args += ["--label", f"{key}={value}"]
    if request.quiet:
        args.append("--quiet")
    if request.no_cache:
        args.append("--no-cache")
    args.append(str(root))
    podman(*args, capture=request.quiet, timeout=1800)
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Tallyhold tracker image with podman.")
    parser.add_argument("--tag", help="image tag (default: the tracker's version)")
    parser.add_argument("--label", action="append", default=[], help="extra KEY=VALUE label")
    options = parser.parse_args()
    labels = dict(item.split("=", 1) for item in options.label)
    try:
        ref = build(BuildRequest(tag=options.tag, labels=labels, quiet=False))
    except PodmanError as exc:
        sys.exit(f"error: {exc}")
    sys.stdout.write(f"image: {ref}\n")


if __name__ == "__main__":
    main()
