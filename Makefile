# Two commands: `make run` (the app on SQLite with demo data) and `make test` (everything).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs in this many processes (pytest-xdist), each on its own test database and
# Redis database number; `--dist load` keeps pytest-django's order (transactional tests last).
TEST_PROCESSES ?= 2

.PHONY: run test lint format install worker cron bench migrate seed serve

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# axe-core (npm) is injected into the real pages by the browser tests.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Links in notices and emails follow the host and port served (SITE_URL, when set, wins).
run seed: export PORT := $(PORT)
run seed: export SITE_HOST := $(HOST)
run: export DEBUG ?= 1
run: seed
	@echo ""
	@echo "  Back-office:  http://$(HOST):$(PORT)/admin/   (log in as moderator / demo-pass-2026; other roles above)"
	@echo "  Writer appeal start page: http://$(HOST):$(PORT)/appeal/   (type a writer's handle and email)"
	@echo "  Writer's magic link and every email sent: http://$(HOST):$(PORT)/admin/demo/mail/   (staff login; files in var/demo-mail/)"
	@echo "  API docs:     http://$(HOST):$(PORT)/api/docs/"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install node_modules/.installed
	bash scripts/ensure-chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run --settings=moderation.settings_test
	$(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist load $(PYTEST_ARGS)

# Queues in priority order (moderation/jobs.py QUEUE_PRIORITY): a worker always takes
# audit and enforcement work before emails. Run several (WORKERS=n) on one or more hosts.
worker: install
	$(PY) manage.py rqworker audit enforcement restoration default email

# Production serving: gunicorn, DEBUG off. Needs SECRET_KEY, ALLOWED_HOSTS,
# AUDIT_SIGNING_KEY(_FILE), DATABASE_URL, REDIS_URL from the environment; WEB_WORKERS
# processes × WEB_THREADS threads (each thread may hold one database connection); their
# defaults and the rest in gunicorn.conf.py, which the HTTP benchmarks serve with too
# (README, "Production serving").
serve: export DEBUG = 0
serve: export WEB_WORKERS := $(WEB_WORKERS)
serve: export WEB_THREADS := $(WEB_THREADS)
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(VENV)/bin/gunicorn moderation.wsgi:application --config gunicorn.conf.py --bind $(HOST):$(PORT) --access-logfile -

cron: install
	$(PY) manage.py rqcron supervision.cron

bench: install
	$(PY) -m bench $(BENCH_ARGS)
