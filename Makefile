# Kognita: every entry point installs what it needs first (see Scripts/setup.sh).
SWIFT ?= swift
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 1
export KOGNITA_PYTHON ?= $(CURDIR)/.build-venv/bin/python

.PHONY: all setup build agent test fuzz bench bench-build devnet clean

all: build

## setup: install missing Debian packages (apt-get as root or via sudo) and the Python cross-check venv
setup:
	@bash Scripts/setup.sh

## build: debug build of every target
build: setup
	$(SWIFT) build

## agent: the device build of kognita-agent, in Embedded Swift (.build-embedded/kognita-agent; see Devices/README.md);
## ARCH=arm64 builds it for 64-bit Raspberry Pis (.build-embedded/arm64/kognita-agent, runs here under qemu-aarch64)
agent: setup
	@ARCH=$(or $(ARCH),host) bash Scripts/build-agent-embedded.sh

SIMULATIONS = AgreementSimulationTests|NetworkSimulationTests|SixteenValidatorRoundTests

## test: setup, then the whole test suite (unit, vectors, CLI, MQTT and Python cross-checks; none may be skipped),
## then the agent's process tests again on its embedded build, the one devices run
test: setup
	$(SWIFT) build --build-tests
	bash Scripts/build-agent-embedded.sh
	KOGNITA_REQUIRE_INTEROP=1 $(SWIFT) test --skip-build --skip '$(SIMULATIONS)'
	# The seeded simulations keep both cores busy for a few minutes: on their
	# own, so that the process tests' start-up deadlines are not starved.
	# Deterministic hashing makes a run replay from its seed exactly.
	SWIFT_DETERMINISTIC_HASHING=1 $(SWIFT) test --skip-build --filter '$(SIMULATIONS)'
	KOGNITA_REQUIRE_INTEROP=1 KOGNITA_AGENT_BINARY=$(CURDIR)/.build-embedded/kognita-agent \
		$(SWIFT) test --skip-build --filter 'AgentProcessTests|wholePathSurvivesKills'
	# The same process tests on the agent built for 64-bit Raspberry Pis, under qemu-aarch64.
	ARCH=arm64 bash Scripts/build-agent-embedded.sh
	KOGNITA_REQUIRE_INTEROP=1 KOGNITA_AGENT_BINARY=$(CURDIR)/.build-embedded/arm64/kognita-agent-qemu \
		$(SWIFT) test --skip-build --filter 'AgentProcessTests|wholePathSurvivesKills'

## fuzz: libFuzzer on every decoder of outside bytes (batches, epoch messages, peer frames), FUZZ_SECONDS each (default 600)
fuzz: setup
	@bash Scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_JOBS)

## bench: package benchmarks, this machine's limits, a one-device latency probe, devnet runs at 5,000 and 50,000 offered (60 s each)
## and a 10-minute chaos run (BENCH_CHAOS_SECONDS); about 20 minutes; rewrites the tables of docs/PERFORMANCE.md
bench: setup
	@bash Scripts/bench.sh

## bench-build: build the benchmarks without running them (CI keeps them compiling)
bench-build: setup
	$(SWIFT) build -c release --package-path Benchmarks

## devnet: a whole network on this machine for about a minute: 4 validators, mosquitto, a bridge, 1,000 devices (DEVNET_ARGS adds options)
DEVNET_ARGS ?=
devnet: setup
	$(SWIFT) build -c release
	.build/release/kognita devnet $(DEVNET_ARGS)

clean:
	$(SWIFT) package clean
	rm -rf .build-venv
