"""Model providers: OpenAI-compatible chat-completions endpoints called through the
official ``openai`` client, with retries, a concurrency limit per provider, a cache key,
and provider API keys encrypted at rest. The services (``expertloop.services.llm``) look
providers up, record every call and reuse recorded completions. See ``docs/llm.md``."""

from __future__ import annotations

from expertloop.llm.chat import MAX_RETRY_AFTER_SECONDS, call_chat, retry_delay
from expertloop.llm.completion import Completion, ProviderConfig, cache_key, merged_params
from expertloop.llm.keys import KeyUnreadable, decrypt_api_key, encrypt_api_key

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "Completion",
    "KeyUnreadable",
    "ProviderConfig",
    "cache_key",
    "call_chat",
    "decrypt_api_key",
    "encrypt_api_key",
    "merged_params",
    "retry_delay",
]
