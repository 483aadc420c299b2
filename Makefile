# Two commands on a fresh machine: `make demo` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint templates unit quick bench bench-cpu bench-calls bench-warm bench-artifact bench-org sweeps venv clean \
	chromium error-matrix record-aws-calls

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tests.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# CloudFormation templates: cfn-lint (in .venv) and checkov, which pins older boto3, networkx and
# packaging than ikr uses and so gets a venv of its own, made from a pinned requirement.
TEMPLATES := member-role/template.yaml stacksets/central.yaml stacksets/member-stackset.yaml
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): stacksets/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r stacksets/checkov-requirements.txt
	touch $(CHECKOV_STAMP)

templates: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint $(TEMPLATES)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --framework cloudformation --skip-download --quiet --compact \
	  $(addprefix -f ,$(TEMPLATES))

# Debian's Chromium for the HTML report's browser test, installed only when missing (never `playwright install`).
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	  else echo "make: $(CHROMIUM) is missing; as root: apt-get install -y --no-install-recommends chromium" >&2; exit 1; fi; \
	  echo "installing Debian's chromium for the HTML report test"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi

test: lint templates chromium
	$(BIN)/python -m pytest -n 2 -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

quick: $(STAMP)  # everything but the long crash sweeps; `make test` (and CI) run them too
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache .demo dist

# Every pause and crash point of the overlap sweeps (the suite samples every third); prints the figures.
sweeps: $(STAMP)
	IKR_FULL_SWEEP=1 $(BIN)/python -m pytest -q -s -p no:randomly tests/integration/test_overlap_sweep.py \
	  tests/integration/test_destructor_idempotent.py | grep -E "tried|passed|failed"

bench: $(STAMP)
	$(BIN)/python -m tests.bench.scale

bench-cpu: $(STAMP)  # a steady-state run's CPU against the floor of its own AWS calls (issue 15's goal)
	$(BIN)/python -m tests.bench.cpu_floor

bench-warm: $(STAMP)  # what a Lambda builds per invocation, cold and warm, and per account message
	$(BIN)/python -m tests.bench.warm

# The Lambda artifact before and after trimming and .pyc: zip and unzipped size, cold import of each
# handler (median of fresh interpreters). Builds six artifacts (pip's cache in .cache/pip): a few minutes.
bench-artifact: $(STAMP)
	$(BIN)/python -m tests.bench.artifact

bench-calls: $(STAMP)  # AWS calls per rotated user and per destroyed key, by service (issue 15's budget)
	$(BIN)/python -m tests.bench.call_budget

# The rotator over Organizations of 1,000 and 10,000 accounts behind a token bucket (5 requests/s, burst 10:
# `python -m tests.bench.org_scale --help`), and the peak memory of the CLI's run for 8,000 and 10,000.
bench-org: $(STAMP)
	$(BIN)/python -m tests.bench.org_scale

# Every documented AWS error of every operation ikr calls, injected once into a real entry point on the
# emulator (tests/integration/test_error_matrix.py): first which operations each scenario reaches,
# then every case. Prints "error matrix: N operations × documented errors: T tried / H handled".
error-matrix: $(STAMP)
	IKR_ERROR_MATRIX=record $(BIN)/python -m pytest -q -p no:randomly tests/integration/test_error_matrix.py \
	  -k test_record_what_each_scenario_reaches | grep -E "passed|failed|Error"
	IKR_ERROR_MATRIX=full $(BIN)/python -m pytest -q -n 2 -p no:randomly tests/integration/test_error_matrix.py \
	  | grep -E "^FAILED|error matrix|passed|failed"

# The operations ikr's own code calls, as the strict AWS layer records them over a whole suite run:
# the error matrix's rows (tests/data/aws_calls_suite.json).
record-aws-calls: $(STAMP)
	IKR_STRICT_AWS_RECORD=tests/data/aws_calls_suite.json $(BIN)/python -m pytest -n 2 -q -m "not slow"
