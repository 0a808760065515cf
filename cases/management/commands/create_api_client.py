from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cases.services.intake import create_api_client
from moderation.models import SignalSource


class Command(BaseCommand):
    help = "Create an API client (a service-role user) and print its key once; only a hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="e.g. ai-text-classifier or platform-web")
        parser.add_argument(
            "--sources",
            nargs="+",
            required=True,
            choices=SignalSource.values,
            help="Signal sources this client may send.",
        )

    def handle(self, *args, name, sources, **options):
        try:
            client, key = create_api_client(name=name, allowed_sources=sources)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"API client {client.name!r} may send: {', '.join(client.allowed_sources)}.")
        self.stdout.write("Key (shown once, store it now):")
        self.stdout.write(key)
        self.stdout.write("Send it as the header  Authorization: Api-Key <key>")
