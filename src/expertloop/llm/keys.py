"""Provider API keys at rest: encrypted with a key derived from the app's secret key.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) with its key derived from
``EXPERTLOOP_SECRET_KEY`` by HKDF-SHA256, so the database alone does not reveal a provider's
key. Changing the secret key makes the stored keys unreadable: enter them again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["KeyUnreadable", "decrypt_api_key", "encrypt_api_key"]

_INFO = b"expertloop llm provider api keys v1"


class KeyUnreadable(Exception):
    """The stored key was encrypted under another secret key (or was altered)."""


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_api_key(secret_key: str, api_key: str) -> str:
    return _fernet(secret_key).encrypt(api_key.encode()).decode()


def decrypt_api_key(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyUnreadable("the stored API key cannot be decrypted with this secret key") from exc
