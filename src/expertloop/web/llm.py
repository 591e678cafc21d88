"""The app's part for model providers: the provider keys stored in the app's database are
encrypted with the app's secret key (see ``services/llm/providers.py``)."""

from __future__ import annotations

from fastapi import FastAPI

from expertloop.services.llm import use_secret_key
from expertloop.services.runtime import Runtime

__all__ = ["install"]


def install(app: FastAPI, runtime: Runtime) -> None:  # noqa: ARG001 - the Install shape
    use_secret_key(runtime.database, runtime.settings.secret_key)
