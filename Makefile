# pilmon — the two set-up commands are `make demo` and `make test` (see README.md).
GO      ?= go
BIN     := bin/pilmon
DEMODIR ?= .pilmon-demo
LISTEN  ?= 127.0.0.1:8080
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build demo docs test deps-demo deps-test vet fuzz bench clean

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pilmon

deps-demo:
	@bash scripts/deps.sh demo

deps-test:
	@bash scripts/deps.sh test

## demo: install what is missing (as root), build, start the embedded Redis, register the generated
## demo targets, run their first scans through the real workers and scheduler (progress bar), serve
## the dashboard and print its URL and the admin password. Ctrl-C stops everything; a second run
## reuses $(DEMODIR). `./bin/pilmon demo --check` does the same on a fresh temporary data dir and
## checks the findings (the test suite runs it as demo.TestDemoEndToEnd).
demo: deps-demo build
	./$(BIN) demo --data-dir $(DEMODIR) --listen $(LISTEN)

## docs: regenerate the rule reference of the user guide from the catalogue (a test fails when the
## committed files are stale).
docs:
	$(GO) run ./cmd/pilmon rules doc --lang zh > docs/zh/rules.md
	$(GO) run ./cmd/pilmon rules doc --lang en > docs/en/rules.md

## test: the whole suite. Integration tests start their own redis-server and Chromium.
test: deps-test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...

## fuzz: run every fuzz target for FUZZTIME each (CI runs only the seed corpora, via `make test`).
FUZZTIME ?= 60s
fuzz:
	@bash scripts/fuzz-all.sh $(FUZZTIME)

## bench: every benchmark program, each printing pilmon's figure beside its named baseline
## (redis-benchmark, dexdump/aapt/androguard, encoding/json, zip -r, wrk…) from the same run.
BENCHES ?= upserts queue apk apkurl traffic miniprogram policies export web hooklog
bench:
	@for b in $(BENCHES); do echo "== bench/$$b"; $(GO) run ./bench/$$b || exit 1; done

clean:
	rm -rf bin
