# Two commands on a fresh machine: `make run` and `make test` (Python 3.11 and make only).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test lint migrate scheduler translations catalogs clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "Touchline needs $(PY) on PATH (or run: make PY=python3 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pybabel -q compile --use-fuzzy -d crm/translations
	@touch $(STAMP)

# Compiled catalogs (not in git): rebuilt whenever a .po is newer.
MO := $(patsubst %.po,%.mo,$(wildcard crm/translations/*/LC_MESSAGES/messages.po))

%.mo: %.po $(STAMP)
	$(BIN)/pybabel -q compile --use-fuzzy -i $< -o $@

catalogs: $(STAMP) $(MO)

run: $(STAMP) $(MO)
	$(BIN)/flask crm migrate
	$(BIN)/flask crm seed-demo
	@$(BIN)/flask crm demo-logins
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: $(STAMP) $(MO)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

migrate: $(STAMP)
	$(BIN)/flask crm migrate

scheduler: $(STAMP)
	$(BIN)/flask crm scheduler

# After changing user-visible strings: extract them and update every catalog, then
# translate the new entries (tests/i18n/test_catalogs.py fails until every one is done).
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k gettext_in:2 -k N_ -k lazy_pgettext:1c,2 -k _lp:1c,2 -o crm/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel -q update -i crm/translations/messages.pot -d crm/translations --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d crm/translations

clean:
	rm -rf $(VENV) instance/touchline.db*
