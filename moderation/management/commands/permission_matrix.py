"""Print the permission matrix as markdown, or write it into README.md between its
markers, so the README never drifts from moderation/permission_matrix.py."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from moderation.permission_matrix import as_markdown

BEGIN = "<!-- permission-matrix:begin (python manage.py permission_matrix --readme) -->\n"
END = "<!-- permission-matrix:end -->\n"


class Command(BaseCommand):
    help = "Print the permission matrix, or rewrite its copy in README.md (--readme)."

    def add_arguments(self, parser):
        parser.add_argument("--readme", action="store_true", help="write the table into README.md")

    def handle(self, *args, readme=False, **options):
        table = as_markdown()
        if not readme:
            self.stdout.write(table, ending="")
            return
        path = Path(settings.BASE_DIR) / "README.md"
        text = path.read_text()
        if BEGIN not in text or END not in text:
            raise CommandError(f"README.md has no {BEGIN.strip()} … {END.strip()} markers")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        path.write_text(head + BEGIN + table + END + tail)
        self.stdout.write(f"README.md: {table.count(chr(10)) - 4} rows")
