# Everything a fresh machine needs: `make demo` and `make test` set up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint bench eval fuzz demo clean

install: $(STAMP)

# System packages the tests use: espeak-ng speaks the synthetic test calls; chromium is the
# browser the end-to-end test drives (Playwright never downloads one of its own).
SYSTEM_PACKAGES := espeak-ng chromium

# torch first, pinned: on these machines 2.13.0 is a local CPU build; any other spec pulls CUDA.
$(STAMP): pyproject.toml
	@missing=$$(for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Quality on the development sets (real dialogues with human labels, kept outside the
# repository in ../shared/dev-data): zero-shot, then 5-fold cross-validated with learning;
# then the samples, the regression set.
DEV_DATA ?= ../shared/dev-data
eval: install
	@for set in charity-pitch campsite-deal; do \
		dir=$(DEV_DATA)/$$set; \
		if [ ! -f $$dir/labels.csv ]; then echo "== $$set: skipped ($$dir not here)"; continue; fi; \
		echo "== $$set, zero-shot"; \
		out=$$($(BIN)/analyzer evaluate $$dir --rubric $$dir/rubric.yaml --top 0) || exit 1; \
		echo "$$out" | tail -n 6; \
		echo "== $$set, learned (5-fold cross-validation)"; \
		out=$$($(BIN)/analyzer evaluate $$dir --rubric $$dir/rubric.yaml --top 0 --cross-validate 5) \
			|| exit 1; \
		echo "$$out" | tail -n 7; \
	done
	@echo "== samples (the regression set), zero-shot"
	@out=$$($(BIN)/analyzer evaluate samples --top 0) || exit 1; echo "$$out" | tail -n 5

# Every reader of outside input (transcripts, sidecars, manifests, rubrics, audio headers) on
# 10,000 generated inputs each: a result or the project's own one-line error, never a traceback
# or a hang (tests/fuzzing.py). The suite runs the same property tests on 120 inputs each.
fuzz: install
	ANALYZER_FUZZ=1 $(BIN)/python -m pytest -q -m fuzz -p no:cacheprovider

bench: install eval
	cd bench && ../$(BIN)/python bench_score.py --match fuzzy
	cd bench && ../$(BIN)/python bench_score.py --match auto --calls 60 --no-sentence-cache
	cd bench && ../$(BIN)/python bench_score.py --match auto --calls 60 --no-sentence-cache --roles inferred
	cd bench && ../$(BIN)/python bench_score.py --match auto --calls 60 --no-sentence-cache --learned
	cd bench && ../$(BIN)/python bench_batch.py --match fuzzy
	cd bench && ../$(BIN)/python bench_batch.py --no-sentence-cache
	cd bench && ../$(BIN)/python bench_batch.py
	cd bench && ../$(BIN)/python bench_transcribe.py
	cd bench && ../$(BIN)/python bench_speech.py
	cd bench && ../$(BIN)/python bench_web.py

# The night's job on the sample calls, then what a manager reads in the morning.
demo: install
	$(BIN)/analyzer batch samples/ --db demo.db
	@echo
	@echo "== Every call, and the average per rep =="
	$(BIN)/analyzer calls --db demo.db
	@echo
	@echo "== One call in full: the suggested grade with its evidence =="
	$(BIN)/analyzer score samples/2026-11-23_alice_0001.json
	@echo
	@echo "== The sample recordings, transcribed by the real Whisper tiny.en that ships with the install =="
	$(BIN)/analyzer transcribe samples/2026-11-24_chloe_0004.wav samples/2026-11-25_ben_0004.wav --out transcripts
	$(BIN)/analyzer score transcripts/2026-11-25_ben_0004.json --format table | sed -n 1,3p
	@echo
	@echo "Next: review and confirm these grades in the browser. Add yourself as a manager"
	@echo "(it asks for a password), serve, and open http://127.0.0.1:8000/ :"
	@echo "  .venv/bin/analyzer users add YOURNAME --role manager --db demo.db"
	@echo "  .venv/bin/analyzer serve --db demo.db"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis bench/.cache
