"""The HTTP skin: the aiohttp app, its routes, keys, errors, authentication, the
live event stream, the agents' inbox, the admin pages and the security headers.
It parses and checks requests and calls the turn pipeline; no conversation logic lives here.
"""
