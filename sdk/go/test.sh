#!/bin/sh
# The Go SDK's checks, as CI runs them: vet, then every test with the race detector against a
# real gateway and worker (started by the tests themselves from this repository; they need
# `pnpm install` done, Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, or
# DATABASE_URL and REDIS_URL). Standard library only: no module download.
set -eu
cd "$(dirname "$0")"
export GOPROXY=off
go vet ./...
go test -race -count=1 -timeout 10m ./...
