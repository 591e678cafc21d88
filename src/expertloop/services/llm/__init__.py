"""Model providers and calls as use cases: admins configure providers; features (judges,
generation, red-teaming) call :func:`complete`, which records every call. See
``docs/llm.md``."""

from __future__ import annotations

from expertloop.services.llm.calls import check_messages, complete, completion_of, list_calls
from expertloop.services.llm.providers import (
    KEEP,
    Provider,
    add_provider,
    delete_provider,
    get_provider,
    list_providers,
    update_provider,
    use_secret_key,
)
from expertloop.services.llm.testing import ProviderTest, test_provider

__all__ = [
    "KEEP",
    "Provider",
    "ProviderTest",
    "add_provider",
    "check_messages",
    "complete",
    "completion_of",
    "delete_provider",
    "get_provider",
    "list_calls",
    "list_providers",
    "test_provider",
    "update_provider",
    "use_secret_key",
]
