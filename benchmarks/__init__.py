"""`python -m benchmarks`: how fast the app serves each tab on full-size stand-ins, beside the bare model call and
beside `gr.Interface.from_pipeline` serving the same models; prints one table and writes a small JSON file.

The app and the peer run as subprocesses on free loopback ports, so they share no GIL with the clients; requests
to the things compared are interleaved one by one, so load from other work on the machine falls on both sides.
"""
