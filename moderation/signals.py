"""Django signals the platform copy sends, so apps further up (cases/) can follow it
without moderation/ importing them."""

from django.dispatch import Signal

# Sent inside the writing transaction with `story_ids`: stories created, or whose facts
# (title, body…) changed. Receivers must defer work until commit (moderation.jobs.enqueue).
stories_written = Signal()
