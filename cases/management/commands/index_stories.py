"""Backfill the near-duplicate index (StorySignature/StoryBand) for stories written before
it existed; stories whose text has not changed since they were signed are skipped."""

from django.core.management.base import BaseCommand

from cases.evidence.similarity import index_stories
from moderation.models import Story


class Command(BaseCommand):
    help = "Sign and band every story for near-duplicate lookups (skips unchanged ones)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, batch, **options):
        last, done = 0, 0
        while True:
            ids = list(Story.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                break
            done += index_stories(story_ids=ids)
            last = ids[-1]
        self.stdout.write(f"{done} stories (re)indexed.")
