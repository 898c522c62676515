#!/usr/bin/env bash
# vulncheck.sh — known vulnerabilities in what hafw links, for `make check`.
#
# govulncheck (pinned, fetched through the Go module proxy like any module)
# needs its vulnerability database: https://vuln.go.dev, or a mirror named by
# GOVULNDB (e.g. file:///srv/vulndb). When the database cannot be reached —
# build hosts that reach only the Go proxy and Debian — the check falls back
# to listing the modules the build links that have newer versions, for the
# review docs/security.md describes; that fallback does not fail the check.
set -uo pipefail
GO=${GO:-go}
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.10.0
DB=${GOVULNDB:-https://vuln.go.dev}

# A one-package scan first: it reaches the database in seconds, where the
# whole tree takes a minute before it would find the database missing.
if probe=$($GO run "$GOVULNCHECK" -db "$DB" ./internal/atomicfile 2>&1); then
  exec $GO run "$GOVULNCHECK" -db "$DB" ./...
fi
if ! grep -q "fetching vulnerabilities" <<<"$probe"; then
  # Found something, or failed for another reason: both are failures.
  echo "$probe" >&2
  exit 1
fi
echo "vulncheck: the vulnerability database $DB is not reachable ($(grep -m1 -o 'fetching vulnerabilities.*' <<<"$probe"))." >&2
echo "vulncheck: instead, modules linked into hafw that have newer versions (review them; docs/security.md, Tools):" >&2
mods=$($GO list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}' ./... | sort -u)
# -e: the proxy refuses some modules' version lists; report them, go on.
# shellcheck disable=SC2086 # one argument per module
$GO list -e -m -u -f '{{if .Update}}  {{.Path}} {{.Version}} -> {{.Update.Version}}{{end}}{{with .Error}}  {{$.Path}}: {{.Err}}{{end}}' $mods | grep -v '^$' >&2
echo "vulncheck: toolchain $($GO env GOVERSION) (the standard library's fixes come with Go releases)." >&2
exit 0
