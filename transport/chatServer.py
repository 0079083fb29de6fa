"""The seed's way to start the server: `python chatServer.py [HOST PORT]` in this folder."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from transport.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
