"""Robustness and security of the reference server under load, faults and hostile input.

The server runs as a separate process (`watched.WatchedServer`), so that what is measured (VmRSS,
open file descriptors, whether it is still alive) is the server's own, read from /proc. The load
and the hostile catalogue are the kit's (conformance/kit/load/), shared with the soak benchmark.
"""
