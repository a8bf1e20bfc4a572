"""The deploy tests import the black-box harness of tests/python/server."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
