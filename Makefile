# cnpg-restore-gen — run `make help` for the targets.
SHELL := /bin/bash
BIN   := $(CURDIR)/bin
GO    ?= go
PKGS  := ./...
export PATH := $(BIN):$(PATH)
export VERSITYGW := $(BIN)/versitygw

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build bin/cnpg-restore-gen
	$(GO) build -o $(BIN)/cnpg-restore-gen ./cmd/cnpg-restore-gen

tools: ## install test tools into bin/ and Debian packages (barman-cli-cloud, postgresql) via apt
	@hack/tools.sh

test: tools ## the whole suite: unit (also under -race) + integration (real S3 server, PostgreSQL, barman-cloud, Gitea, git) + short fuzzing + the Mermaid charts rendered in Chromium
	$(GO) test -race -short -count=1 $(PKGS)
	$(GO) test -count=1 -timeout 25m $(PKGS)
	@$(MAKE) --no-print-directory fuzz
	@hack/check-mermaid.sh

test-unit: ## unit tests only (no servers)
	$(GO) test -short -count=1 $(PKGS)

test-integration: tools ## integration tests only
	$(GO) test -count=1 -run Integration $(PKGS)

# Each target's budget is a number of executions ("Nx"), sized to about ten seconds on a
# two-core machine. A wall-clock -fuzztime races Go's fuzz coordinator at the deadline and fails
# with a bare "context deadline exceeded" and no crasher (golang/go#75804, unfixed in Go 1.26);
# a count has no deadline to race. FUZZTIME=30s (or 1000000x) overrides every budget.
FUZZ_TARGETS := catalog:FuzzParseBackupInfo:150000x catalog:FuzzParseWALName:150000x catalog:FuzzParseHistory:150000x \
	catalog:FuzzParseTargetTime:100000x catalog:FuzzReadWALRecords:100000x internal/objstore:FuzzParseListV2:40000x generator:FuzzCutover:20000x
fuzz: ## run every fuzz target for its execution budget (FUZZTIME=30s or =Nx overrides)
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; rest=$${t#*:}; f=$${rest%%:*}; budget=$${FUZZTIME:-$${rest#*:}}; echo "fuzz: $$f ($$budget)"; \
	  out=$$($(GO) test ./$$pkg -run '^$$' -fuzz "^$$f\$$" -fuzztime $$budget 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
	  echo "$$out" | grep -E '^fuzz: elapsed' | tail -1 | sed 's/^/  /'; \
	done

golden: ## rewrite golden files (read every diff before committing)
	$(GO) test $(PKGS) -update

lint: ## golangci-lint (installed into bin/ by this target)
	@TOOLS_LINT=1 hack/tools.sh
	$(BIN)/golangci-lint run $(PKGS)

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet $(PKGS)

tidy: ## go mod tidy
	$(GO) mod tidy

demo: build ## run the tool on the embedded sample catalog (no bucket, no credentials)
	@hack/demo.sh

demo-files: build ## lay out the sample in ./demo (catalog, GitOps repo, its origin) to try the tool by hand
	@hack/demo-files.sh demo
	@echo "demo/catalog, demo/repo and demo/remote.git are ready; bin/cnpg-restore-gen is built (see README)"

bench: build ## whole-process scan benchmark vs barman-cloud and aws s3 ls (BENCH_SCALE=small|full, BENCH_RTT=20ms, BENCH_RUNS=3), then the Go benchmarks
	@TOOLS_BENCH=1 hack/tools.sh
	$(GO) test -run '^$$' -bench . -benchmem ./catalog
	$(GO) run ./hack/bench

sample: tools ## remake the embedded sample catalog from a real PostgreSQL + barman-cloud run
	hack/make-sample.sh

clean: ## remove build outputs
	rm -rf $(BIN)/cnpg-restore-gen .cache

.PHONY: help build tools demo-files test test-unit test-integration fuzz golden lint fmt vet tidy demo bench sample clean
