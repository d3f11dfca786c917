"""`python -m tallyhold_sandbox.esplora [--host H] [--port P] [--seed FILE]`."""

from __future__ import annotations

import argparse

from tallyhold_sandbox.esplora.server import add_arguments, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tallyhold_sandbox.esplora", description="Esplora sandbox")
    add_arguments(parser)
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
