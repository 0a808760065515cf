from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand

from moderation.audit_heads import key_id, public_key_text


class Command(BaseCommand):
    help = (
        "Print a new Ed25519 key for signing audit heads (PEM, for AUDIT_SIGNING_KEY_FILE) and its public half. "
        "Keep the private key off the database server."
    )

    requires_system_checks = []  # the check would want the key this makes

    def handle(self, *args, **options):
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.stdout.write(pem.decode(), ending="")
        public = key.public_key()
        self.stderr.write(f"public key (AUDIT_TRUSTED_PUBLIC_KEYS after a rotation): {public_key_text(public)}")
        self.stderr.write(f"key id: {key_id(public)}")
