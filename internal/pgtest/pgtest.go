// Package pgtest gives tests the PostgreSQL server they share: the one
// ATO_POSTGRES_URL names (eval "$(.ci/postgres start)" starts a throwaway
// one), and a schema of each test's own on it. Without a server a test is
// skipped, unless CI is set: there a missing server is a failure, so that
// the PostgreSQL tests cannot quietly stop running.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/atoguard/ato/internal/storeopen"
	"github.com/jackc/pgx/v5"
)

// Env names the environment variable with the server's connection string.
const Env = "ATO_POSTGRES_URL"

// URL returns the server's connection string, or skips the test (fails it
// under CI) when there is none.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: the PostgreSQL tests must run (eval \"$(.ci/postgres start)\")", Env)
		}
		t.Skipf("no PostgreSQL server: set %s to run this test (eval \"$(.ci/postgres start)\" starts a throwaway one)", Env)
	}
	return u
}

// Schema returns the name of a fresh schema, dropped with everything in it
// when the test ends.
func Schema(t testing.TB) string {
	t.Helper()
	server := URL(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// SchemaURL returns the server's connection string naming a fresh schema
// (Schema) in storeopen.SchemaParam, the form the demo, atod and the ato
// tool take, and the schema's name.
func SchemaURL(t testing.TB) (spec, schema string) {
	t.Helper()
	schema = Schema(t)
	u, err := url.Parse(URL(t))
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set(storeopen.SchemaParam, schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}
