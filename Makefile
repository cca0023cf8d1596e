# `make test` is the one command CI runs (.ci/run). It installs its own tooling
# into .venv, starts moto on a free loopback port, and stops it however tests end.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export VENV
export CARGO_TERM_COLOR ?= never
# Tests that start servers bound to loopback can share the machine's 2 cores.
export RUST_TEST_THREADS ?= 4

.PHONY: simulate simulation test checks fmt-check clippy lint-template checkov asyncapi node sdk-compat invoke-smoke contract kiosk-browser browser cargo-test venv bench local clean-venv package package-check

test: venv
	tools/ci/with-moto.sh $(MAKE) --no-print-directory checks

# cargo-test runs last: its summary line is the run's closing line.
checks: fmt-check lint-template checkov asyncapi clippy sdk-compat invoke-smoke package-check contract kiosk-browser simulation cargo-test

venv: $(VENV)/.installed

$(VENV)/.installed: tools/ci/requirements.txt
	@# Debian and Ubuntu ship venv apart from python3 (root installs it).
	@if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
		echo "installing python3-venv (apt)"; \
		for attempt in 1 2 3; do \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends python3-venv >/dev/null && break; \
			[ $$attempt = 3 ] && exit 1; sleep 5; \
		done; \
	fi
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tools/ci/requirements.txt
	touch $@

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

lint-template: venv
	$(VENV)/bin/cfn-lint template.yaml

# checkov (security lint) on template.yaml, then on the template the SAM
# transform expands it to (the roles, the function URL, the API stage). Any
# finding not skipped fails. Skipped checks and their reasons: .checkov.yaml,
# and resources' `Metadata: checkov: skip:` in template.yaml. Offline: no API
# key, no download, no version check.
# checkov has a venv of its own: it pins boto3, which moto's must not follow.
checkov: venv $(VENV)-checkov/.installed
	@export CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE; unset BC_API_KEY; \
	expanded="$$(mktemp -d)"; trap 'rm -rf "$$expanded"' EXIT; \
	$(VENV)/bin/python tools/ci/expand_template.py template.yaml >"$$expanded/template.expanded.json"; \
	status=0; \
	echo "checkov template.yaml"; \
	$(VENV)-checkov/bin/checkov --config-file .checkov.yaml -f template.yaml || status=1; \
	echo "checkov template.yaml expanded by the SAM transform"; \
	(cd "$$expanded" && "$(CURDIR)/$(VENV)-checkov/bin/checkov" --config-file "$(CURDIR)/.checkov.yaml" \
		-f template.expanded.json) || status=1; \
	exit $$status

$(VENV)-checkov/.installed: tools/ci/requirements-checkov.txt
	python3 -m venv $(VENV)-checkov
	$(VENV)-checkov/bin/pip install --quiet -r tools/ci/requirements-checkov.txt
	touch $@


# The mock must serve Mercado Pago's official Python SDK unchanged.
sdk-compat: venv
	cargo build --quiet -p mercadopago-mock
	$(VENV)/bin/python tools/mercadopago-mock/sdk-compat/check_official_sdk.py target/debug/mercadopago-mock

# The Lambda binaries under `cargo lambda watch`, fed the samples in events/.
# Needs moto: run through `make test`, or `tools/ci/with-moto.sh make invoke-smoke`.
invoke-smoke: venv
	cargo build --quiet -p mercadopago-mock -p create-payment -p get-payment -p cancel-payment -p refund-payment -p payment-webhook -p event-relay -p payment-sweeper
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/ci/invoke_smoke.py

# The deployable zips, target/lambda/<function>/bootstrap.zip, the CodeUri of
# each function in template.yaml, built by cargo lambda for ARCH (the stack's
# Architecture: arm64, its default, or x86_64), then checked: one executable
# bootstrap each, for ARCH, needing no glibc newer than provided.al2023's
# (sizes printed). The plain cargo compiler for the host's own architecture;
# zig cross-links the other. These machines cannot install arm64's standard
# library, so make test builds x86_64.
ARCH ?= arm64
LAMBDA_DIR ?= target/lambda
LAMBDA_PACKAGES := -p create-payment -p get-payment -p cancel-payment -p refund-payment \
	-p payment-webhook -p event-relay -p payment-sweeper
package: venv
	@case "$(ARCH)" in \
		x86_64) target=x86_64-unknown-linux-gnu; flags="--x86-64" ;; \
		arm64) target=aarch64-unknown-linux-gnu; flags="--arm64" ;; \
		*) echo "ARCH must be x86_64 or arm64, not $(ARCH)" >&2; exit 2 ;; \
	esac; \
	if [ "$$(uname -m)" = "$${target%%-*}" ]; then flags="$$flags --compiler cargo"; fi; \
	rustup target list --installed | grep -q "^$$target$$" || rustup target add $$target; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release $$flags \
		--output-format zip --lambda-dir $(LAMBDA_DIR) $(LAMBDA_PACKAGES)
	$(VENV)/bin/python tools/ci/package_check.py --arch $(ARCH) --dir $(LAMBDA_DIR)
	@echo "deploy these with the template parameter Architecture=$(ARCH)"

# The x86_64 zips as Lambda takes them, then get-payment's, unpacked, run
# under a Runtime API stand-in against moto. Built into target/lambda-check,
# so make test never replaces the zips the template points at (an arm64
# `make package` waiting for `sam deploy`). Needs moto: through `make test`,
# or tools/ci/with-moto.sh make package-check.
package-check: venv
	$(MAKE) --no-print-directory package ARCH=x86_64 LAMBDA_DIR=target/lambda-check
	$(VENV)/bin/python tools/ci/package_check.py --arch x86_64 --dir target/lambda-check --run

# schemathesis against payments-local from the openapi.yaml it serves: any 5xx,
# any answer the document does not describe, any invalid request accepted fails.
contract: venv
	cargo build --quiet -p payments-local
	$(VENV)/bin/python tools/ci/contract_check.py

# The kiosk page in headless Chromium, as a person would use it.
kiosk-browser: venv browser
	cargo build --quiet -p payments-local
	$(VENV)/bin/python tools/ci/kiosk_check.py

# Chromium and its WebDriver from the OS packages, when missing (root, Debian).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing chromium and chromium-driver (apt)"; \
		for attempt in 1 2 3; do \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends chromium chromium-driver >/dev/null && break; \
			[ $$attempt = 3 ] && exit 1; sleep 5; \
		done; \
	fi

# asyncapi.yaml checked by AsyncAPI's own parser (npm @asyncapi/parser, pinned
# in tools/ci/asyncapi/package-lock.json). The events the tests publish are
# checked against its schemas by the Rust suite (tests/src/asyncapi.rs).
asyncapi: node tools/ci/asyncapi/node_modules/.installed
	node tools/ci/asyncapi/check.mjs asyncapi.yaml

tools/ci/asyncapi/node_modules/.installed: tools/ci/asyncapi/package.json tools/ci/asyncapi/package-lock.json
	cd tools/ci/asyncapi && npm ci --silent --no-audit --no-fund
	touch $@

node:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		echo "installing nodejs and npm (apt)"; \
		for attempt in 1 2 3; do \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends nodejs npm >/dev/null && break; \
			[ $$attempt = 3 ] && exit 1; sleep 5; \
		done; \
	fi

cargo-test:
	tools/ci/cargo-test.sh

# The deterministic simulation (docs/simulation.md): RUNS histories from SEED;
# one line per violated invariant, then `<n> histories, <v> violations (seed <s>)`.
SEED ?= 1
RUNS ?= 2000
simulate:
	cargo run --quiet --release -p payments-simulation --bin simulate -- --seed $(SEED) --runs $(RUNS)

# What `make test` runs: 5,000 histories under a fixed seed, built with the
# tests' own (dev) profile so it adds no build of its own (about a minute).
simulation:
	cargo run --quiet -p payments-simulation --bin simulate -- --seed 20261125 --runs 5000

# The bench runs the bootstraps `make package` builds for this machine's
# architecture (the same release build, shared), and hello-world built with
# the same profile and target.
HOST_ARCH := $(shell uname -m | sed 's/aarch64/arm64/')
HOST_TARGET := $(shell uname -m)-unknown-linux-gnu

# Every figure beside its baseline and goal, in one run: cold start, init CPU,
# memory and size against hello-world (needs moto), the signature check
# beside one HMAC, local-stack flows beside bare axum. docs/performance.md
# explains them.
bench: venv
	$(MAKE) --no-print-directory package ARCH=$(HOST_ARCH)
	cargo build --release --target $(HOST_TARGET) -p hello-lambda
	tools/ci/with-moto.sh cargo bench -p payments-tests --bench footprint
	cargo bench -p payments-shared --bench webhook_signature
	cargo bench -p payments-tests --bench flows

local:
	cargo run -p payments-local

clean-venv:
	rm -rf $(VENV) $(VENV)-checkov
