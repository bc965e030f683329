"""Endpoint secrets at rest: encrypted with the service's key (WEBHOOKS_SECRET_KEY), so the
database alone never gives them away, and decrypted only to sign a delivery."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet


class SecretBox:
    def __init__(self, key: str) -> None:
        derived = hashlib.sha256(b"loyalty webhooks secrets|" + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()
