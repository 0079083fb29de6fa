"""The course's real clients, emulated from their described habits, against the default server."""
