// Command atod is ato as a service: a self-hosted HTTP server that speaks
// the hosted account-takeover API of Rupt (v2), for applications not
// written in Go. Pointing such an application at it is a change of base
// URL and secret.
//
//	export ATOD_API_KEYS=$(openssl rand -hex 32)
//	go run ./cmd/atod                       # http://127.0.0.1:8484, state in ./atod.db
//	go run ./cmd/atod -store postgres://…   # instances sharing one database
//	go run ./cmd/atod -outbox codes.jsonl   # development: codes to a file
//
// `atod -h` lists the flags; each can also be set from the environment
// (-store as ATOD_STORE). The API is described at /openapi.json; health
// at /healthz and /readyz, Prometheus metrics at /metrics. SIGTERM stops
// it gracefully: requests in flight finish first.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/atoguard/ato/internal/atod"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := atod.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
