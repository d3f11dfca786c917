"""The kubernetes backend's parts: per-customer names, the charts rendered in-process (render.py), and the
cluster reached through the official client with server-side apply (cluster.py)."""
