# hafw — the two commands a newcomer runs are `make image` and `make test`.
# Every target installs the Debian packages it needs (scripts/apt-ensure.sh
# is idempotent), so nothing relies on what an earlier session left behind.
SHELL := /bin/bash
GO    ?= go
OUT   ?= out

# Packages the test suite needs: root network-namespace tests (iproute2,
# nftables, dnsmasq as a real DHCP server) and QEMU boot tests.
# The image builder: mtools (ESP), e2fsprogs (data partition), systemd-boot
# (boot menu), apt/dpkg to unpack Debian's kernel (scripts/fetch-kernel.sh).
IMAGE_PKGS := kmod mtools e2fsprogs systemd-boot-efi
TEST_PKGS  := iproute2 nftables dnsmasq-base kmod chromium snmptrapd smitools prometheus $(IMAGE_PKGS) qemu-system-x86 qemu-utils ovmf fdisk xorriso
# Where scripts/fetch-kernel.sh unpacks Debian's linux-image package.
KERNEL_CACHE := .cache/kernel

.PHONY: all image kernel test check unit bench deps-test deps-image clean

all: image

deps-test:
	@scripts/apt-ensure.sh $(TEST_PKGS)

deps-image:
	@scripts/apt-ensure.sh $(IMAGE_PKGS)

## kernel: unpack Debian's current kernel package into $(KERNEL_CACHE) (never /boot).
kernel: deps-image
	@scripts/fetch-kernel.sh $(KERNEL_CACHE) >/dev/null

## image: build the default appliance images into $(OUT)/: the VA-Standard
## OVA and the 3355 raw disk, each with a JSON build manifest.
image: kernel
	$(GO) run ./cmd/hafw build --profile VA-Standard --out $(OUT)
	$(GO) run ./cmd/hafw build --profile 3355 --out $(OUT)

# staticcheck, pinned: `go run` fetches it through the Go module proxy
# (checked against the checksum database) into the module cache, so a fresh
# machine needs nothing but Go and the proxy. Raise the version with Go.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

## check: formatting, vet, staticcheck, known vulnerabilities
## (scripts/vulncheck.sh) and a tidy go.mod.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@GO=$(GO) scripts/vulncheck.sh
	@cp go.mod /tmp/hafw-go.mod.bak; cp go.sum /tmp/hafw-go.sum.bak; \
	  $(GO) mod tidy; \
	  if ! cmp -s go.mod /tmp/hafw-go.mod.bak || ! cmp -s go.sum /tmp/hafw-go.sum.bak; then \
	    echo "go mod tidy changed go.mod/go.sum: commit the tidy result"; \
	    cp /tmp/hafw-go.mod.bak go.mod; cp /tmp/hafw-go.sum.bak go.sum; exit 1; fi

## test: every test tier (unit, root network namespaces, QEMU boots).
test: deps-test kernel check
	$(GO) test -count=1 -timeout 45m ./...

## unit: the fast local loop, without root: go test -short, which skips
## the network-namespace and QEMU tiers with their reason (make test runs
## them all).
unit:
	$(GO) test -short -count=1 ./...

## bench: side-by-side benchmarks (hafw next to keepalived, u-root's CLI, …);
## prints the table and writes bench/results.json. BENCH_QUICK=1 for a short run.
BENCH_PKGS := keepalived rsync iproute2 nftables $(IMAGE_PKGS) qemu-system-x86 qemu-utils ovmf
bench: kernel
	@scripts/apt-ensure.sh $(BENCH_PKGS)
	$(GO) run ./cmd/hafw-bench -out bench/results.json

clean:
	rm -rf $(OUT)

## demo: the end-to-end demo (docs/demo.md): builds the VA-Standard image,
## boots a pair in QEMU (TCG) inside a private network namespace, pairs,
## pulls the primary's power, fails back; ends with a one-screen summary.
## Needs root (namespace, tap devices). Ctrl-C cleans up.
DEMO_PKGS := iproute2 qemu-system-x86 fdisk $(IMAGE_PKGS)
.PHONY: demo
demo: kernel
	@scripts/apt-ensure.sh $(DEMO_PKGS)
	$(GO) run ./cmd/hafw-demo
