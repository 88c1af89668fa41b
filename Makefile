# pingpanda — see README.md.
GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s
# The Lambda bootstrap's size budget (issue 13: 25 MB, with the SDK's service
# clients). Nothing may execute a text/template or html/template: their
# reflection (MethodByName) keeps the linker from dropping unused exported
# methods, and doubled the bootstrap once (issue 15's email, 16 to 32 MB).
LAMBDA_MAX_BYTES := 25000000

.PHONY: build build-darwin run test test-deps faults bench bench-smoke lint fuzz lambda clean

## build: the binary, at bin/pingpanda
build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/pingpanda ./cmd/pingpanda

## build-darwin: build and vet for macOS (arm64), so a laptop user can run a debugging sweep
build-darwin:
	GOOS=darwin GOARCH=arm64 $(GO) build ./... && GOOS=darwin GOARCH=arm64 $(GO) vet ./...

## run: one sweep with the built-in defaults; no set-up needed
run: build
	./bin/pingpanda

## lambda: the AWS Lambda bootstrap (arm64, provided.al2023), zipped for template.yaml
lambda:
	mkdir -p dist/lambda
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o dist/lambda/bootstrap ./cmd/pingpanda
	cd dist/lambda && rm -f ../pingpanda-lambda.zip && zip -q -j ../pingpanda-lambda.zip bootstrap 2>/dev/null || python3 -m zipfile -c ../pingpanda-lambda.zip bootstrap
	@ls -l dist/lambda/bootstrap dist/pingpanda-lambda.zip
	@size=$$(stat -c %s dist/lambda/bootstrap); if [ $$size -gt $(LAMBDA_MAX_BYTES) ]; then \
	  echo "dist/lambda/bootstrap is $$size bytes, over the $(LAMBDA_MAX_BYTES)-byte budget"; exit 1; fi

## test: every test, with the race detector (installs the test tools first)
# The deployment tests are their own module (infra/go.mod keeps k8s.io/api
# out of pingpanda's); they run beside the main module's, since their cron
# test spends two minutes waiting for the daemon, and print after them.
test: test-deps
	@infra_log=$$(mktemp); \
	(cd infra && $(GO) test -race -count=1 ./...) >"$$infra_log" 2>&1 & infra_pid=$$!; \
	$(GO) test -race -count=1 ./...; main=$$?; \
	wait $$infra_pid; infra=$$?; \
	echo "# infra module: cd infra && $(GO) test -race -count=1 ./..."; \
	cat "$$infra_log"; rm -f "$$infra_log"; \
	[ $$main = 0 ] && [ $$infra = 0 ]

## faults: the fault-injection suite alone (RELIABILITY.md), one FAULT line
## per fault class; make test runs it too
faults: test-deps
	@log=$$(mktemp); \
	$(GO) test -race -count=1 -v -run '^TestFault' ./cmd/pingpanda ./probe >"$$log" 2>&1; rc=$$?; \
	grep -E '^ *([a-z_]+\.go:[0-9]+: FAULT |--- FAIL|FAIL|ok |panic:)' "$$log" | sed -E 's/^ *[a-z_]+\.go:[0-9]+: //'; \
	if [ $$rc -ne 0 ]; then echo "make faults failed; full output:"; cat "$$log"; fi; \
	rm -f "$$log"; exit $$rc

# test-deps makes sure the tools the integration tests start are present.
# As root on Debian it installs what is missing (with services kept from
# starting: the tests start their own servers on free loopback ports);
# elsewhere it names the packages. Map: command -> Debian package.
TEST_TOOLS := ip:iproute2 unshare:util-linux mount:mount redis-server:redis-server prometheus-pushgateway:prometheus-pushgateway promtool:prometheus cron:cron crontab:cron systemd-analyze:systemd prometheus-alertmanager:prometheus-alertmanager aiosmtpd:python3-aiosmtpd
test-deps:
	@missing=""; \
	for pair in $(TEST_TOOLS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
	      trap 'rm -f /usr/sbin/policy-rc.d' EXIT; \
	    fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "make test needs these packages:$$missing"; \
	    echo "  Debian/Ubuntu: sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi

## bench: every benchmark, N up to 10,000 (PINGPANDA_BENCH_FULL), sweeps three times
# (a loop rather than -count 3, which hides a failure after the first run)
bench:
	@for i in 1 2 3; do PINGPANDA_BENCH_FULL=1 $(GO) test -run '^$$' -bench . -benchtime 1x ./probe || exit 1; done
	PINGPANDA_BENCH_FULL=1 $(GO) test -run '^$$' -bench . -benchtime 10x ./state
	$(GO) test -run '^$$' -bench Exposition -benchtime 10x ./push
	$(GO) test -run '^$$' -bench . -benchtime 20x ./cmd/pingpanda

## bench-smoke: every benchmark once at its smallest N (-short), as CI runs them
bench-smoke:
	$(GO) test -short -run '^$$' -bench . -benchtime 1x ./...

## lint: gofmt, go vet, staticcheck (of both modules)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd infra && $(GO) run $(STATICCHECK) ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseTarget$$' -fuzztime $(FUZZTIME) ./probe
	$(GO) test -run '^$$' -fuzz '^FuzzParseCodes$$' -fuzztime $(FUZZTIME) ./probe
	$(GO) test -run '^$$' -fuzz '^FuzzRedactURL$$' -fuzztime $(FUZZTIME) ./probe/secret
	$(GO) test -run '^$$' -fuzz '^FuzzParseSelector$$' -fuzztime $(FUZZTIME) ./alert/route
	$(GO) test -run '^$$' -fuzz '^FuzzGlob$$' -fuzztime $(FUZZTIME) ./alert/route
	$(GO) test -run '^$$' -fuzz '^FuzzParseEnvFile$$' -fuzztime $(FUZZTIME) ./cmd/pingpanda/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseTargetsYAML$$' -fuzztime $(FUZZTIME) ./cmd/pingpanda/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseLambdaEvent$$' -fuzztime $(FUZZTIME) ./cmd/pingpanda/lambda
	$(GO) test -run '^$$' -fuzz '^FuzzParseAWSRef$$' -fuzztime $(FUZZTIME) ./cmd/pingpanda/awsref
	$(GO) test -run '^$$' -fuzz '^FuzzParseMonitorsFile$$' -fuzztime $(FUZZTIME) ./cmd/pingpanda/config
	$(GO) test -run '^$$' -fuzz '^FuzzJSONFastPathAgreesWithGojq$$' -fuzztime $(FUZZTIME) ./probe
	$(GO) test -run '^$$' -fuzz '^FuzzQuoteCut$$' -fuzztime $(FUZZTIME) ./probe
	$(GO) test -run '^$$' -fuzz '^FuzzNormaliseDNSData$$' -fuzztime $(FUZZTIME) ./probe
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./state
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeOutboxEntry$$' -fuzztime $(FUZZTIME) ./state
	$(GO) test -run '^$$' -fuzz '^FuzzFileStoreLoad$$' -fuzztime $(FUZZTIME) ./state
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSilence$$' -fuzztime $(FUZZTIME) ./state

clean:
	rm -rf bin dist
