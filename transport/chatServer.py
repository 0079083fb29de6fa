"""`python chatServer.py [HOST PORT]` in this folder: the course's way to start a server.

It is `jsonchat serve [HOST PORT]`, and works from a checkout that was never installed.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from transport.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
