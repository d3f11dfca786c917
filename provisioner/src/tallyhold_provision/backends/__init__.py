"""Where customers' instances run. `local`: supervisord programs on this machine. `kubernetes`: one Helm
release per customer in its own namespace (not available yet)."""
