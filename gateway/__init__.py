"""The HTTP gateway: the one door for POS terminals, members and staff.

The app factory is `gateway.app.create_app`; nothing is imported here, so that `python -m
gateway` can prepare the metrics' environment before any module that counts is loaded.
"""
