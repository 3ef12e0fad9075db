# Knocker: the two commands a newcomer runs are `make demo` and `make test`.
# Everything else the targets need is installed here, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help setup test test-rust test-python test-interop test-bench-scripts demo bench clean

help:
	@echo "make demo   - the main job end to end on a local SQLite file (demo.sqlite)"
	@echo "make test   - every test suite (Rust, Python, Node, docs)"
	@echo "make bench  - benchmarks (release build), JSON in bench/results/"
	@echo "make docs   - the documentation book (docs/book/index.html)"

setup:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install the Rust toolchain (rustup)"; exit 1; }

include bindings-python/Makefile.inc
include bindings-node/Makefile.inc
include docs/Makefile.inc

test: setup test-rust test-python test-node test-interop test-bench-scripts docs-test

# The binding benchmarks at a tiny size (debug builds): they check what they store and handle,
# so a change that breaks a benchmark fails here, not on the next `make bench`.
test-bench-scripts: python-setup node-build
	.venv/bin/python bench/python_bench.py --n 64 --list-events 200 --list-calls 5 --matrix > /dev/null
	KNOCKER_BENCH_N=64 node bench/node_bench.mjs > /dev/null
	@echo "bench scripts ok"

# One SQLite contract: Node receives and Python handles, and the reverse.
test-interop: python-setup node-build
	.venv/bin/python -m pytest -q tests/interop

test-python: python-test

test-rust:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc -- --skip book::
	$(CARGO) run -q -p knocker --example axum_route -- --self-test
	$(CARGO) test -q -p knocker --features otel --test otel

KNOCKER_CLI = $(CARGO) run -q -p knocker --bin knocker -- --db demo.sqlite

demo: setup
	$(CARGO) run -q -p knocker --example demo -- demo.sqlite
	@echo; echo "== operator CLI on demo.sqlite: the 3 AM recovery flow"
	@echo '$$ knocker stats'; $(KNOCKER_CLI) stats
	@echo; echo '$$ knocker events list --status dead'; $(KNOCKER_CLI) events list --status dead
	@echo; echo '$$ knocker requeue --status dead --dry-run'; $(KNOCKER_CLI) requeue --status dead --dry-run
	@echo; echo '$$ knocker requeue --status dead --yes --actor demo:oncall'; $(KNOCKER_CLI) requeue --status dead --yes --actor demo:oncall
	@echo; echo '$$ knocker audits list --kind operator'; $(KNOCKER_CLI) audits list --kind operator
	@echo; echo '$$ knocker doctor'; $(KNOCKER_CLI) doctor
	@echo; echo "demo ok: the requeued event is claimable again; the app's workers run it on their next poll"

bench: setup
	$(CARGO) run -q --release -p knocker-bench -- --rounds 5 --long 100000 --out bench/results/rust.json

clean:
	$(CARGO) clean
	rm -f demo.sqlite demo.sqlite-wal demo.sqlite-shm
