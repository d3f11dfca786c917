"""podman: the tracker's container image (image.py) and the per-customer container backend."""
