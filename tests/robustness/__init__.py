"""Robustness and security of the reference server under load, faults and hostile input (issue 7).

The server runs as a separate process (`target.Target`), so that what is measured (VmRSS, open
file descriptors, whether it is still alive) is the server's own, read from /proc.
"""
