#!/usr/bin/env bash
# Re-records fingerprint/testdata/rupt-2.24.1.json: real hashes of the Rupt
# browser SDK in headless Chromium under controlled browser changes.
# Needs Debian's chromium (apt-get install -y chromium) and npm; takes about
# a minute. The SDK is installed in a temporary folder, never in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${RUPT_VERSION:-2.24.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund "rupt@$version" >/dev/null)
go run ./internal/ruptcapture -sdk "$tmp/node_modules/rupt/index.js" -out "fingerprint/testdata/rupt-$version.json"
