from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cases.services.intake import create_api_client
from moderation.models import ApiScope, SignalSource


class Command(BaseCommand):
    help = "Create an API client (a service-role user) and print its key once; only a hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="e.g. ai-text-classifier, platform-web or platform-mirror")
        parser.add_argument(
            "--sources",
            nargs="+",
            default=[],
            choices=SignalSource.values,
            help="Signal sources this client may send (needs the signals scope).",
        )
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=[ApiScope.SIGNALS],
            choices=ApiScope.values,
            help="signals (default): send signals, read their cases; platform: the platform mirror API, "
            "only for the platform's own client.",
        )

    def handle(self, *args, name, sources, scopes, **options):
        try:
            client, key = create_api_client(name=name, allowed_sources=sources, scopes=scopes)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        sends = f", may send: {', '.join(client.allowed_sources)}" if client.allowed_sources else ""
        self.stdout.write(f"API client {client.name!r}, scopes: {', '.join(client.scopes)}{sends}.")
        self.stdout.write("Key (shown once, store it now):")
        self.stdout.write(key)
        self.stdout.write("Send it as the header  Authorization: Api-Key <key>")
