"""Shared by every test folder, so it holds nothing that needs a database.

The database fixtures are a plugin, ``db_fixtures.py``, loaded only by the folders that use
a database (their ``conftest.py`` imports ``backends``, ``clock`` and ``env`` from it): the
pure tests (quality, tasks, domain, scheduling rules) never create one. This file being
here puts ``tests/`` on the import path, so test modules can import ``db_fixtures`` and the
folders' helpers.
"""
