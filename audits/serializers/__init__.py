"""API v1 shapes of the audits app, by theme."""

from .audits import *  # noqa: F401,F403
