# hafw — the two commands a newcomer runs are `make image` and `make test`.
# Every target installs the Debian packages it needs (scripts/apt-ensure.sh
# is idempotent), so nothing relies on what an earlier session left behind.
SHELL := /bin/bash
GO    ?= go
OUT   ?= out

# Packages the test suite needs: root network-namespace tests (iproute2,
# nftables, dnsmasq as a real DHCP server) and QEMU boot tests.
TEST_PKGS  := iproute2 nftables dnsmasq-base kmod chromium
IMAGE_PKGS := kmod

.PHONY: all image test check unit bench deps-test deps-image clean

all: image

deps-test:
	@scripts/apt-ensure.sh $(TEST_PKGS)

deps-image:
	@scripts/apt-ensure.sh $(IMAGE_PKGS)

## image: build the default appliance images into $(OUT)/.
image: deps-image
	@mkdir -p $(OUT)
	$(GO) build -o $(OUT)/bin/ ./cmd/...
	@echo "binaries in $(OUT)/bin (the image builder is not there yet)"

## check: formatting, vet and a tidy go.mod.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@cp go.mod /tmp/hafw-go.mod.bak; cp go.sum /tmp/hafw-go.sum.bak; \
	  $(GO) mod tidy; \
	  if ! cmp -s go.mod /tmp/hafw-go.mod.bak || ! cmp -s go.sum /tmp/hafw-go.sum.bak; then \
	    echo "go mod tidy changed go.mod/go.sum: commit the tidy result"; \
	    cp /tmp/hafw-go.mod.bak go.mod; cp /tmp/hafw-go.sum.bak go.sum; exit 1; fi

## test: every test tier (unit, root network namespaces, QEMU boots).
test: deps-test check
	$(GO) test -count=1 -timeout 45m ./...

## bench: side-by-side benchmarks; writes bench/results.json.
bench:
	@echo "no benchmarks yet"

clean:
	rm -rf $(OUT)
