package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/atoguard/ato/pgstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// urlEnv names the environment variable with the connection string of the
// PostgreSQL server the tests use (.ci/postgres start sets it).
const urlEnv = "ATO_POSTGRES_URL"

// serverURL returns the test server's connection string. Without one, the
// test is skipped, unless CI is set: there a missing server is a failure.
func serverURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: the PostgreSQL tests must run (eval \"$(.ci/postgres start)\")", urlEnv)
		}
		t.Skipf("no PostgreSQL server: set %s to run the pgstore tests (eval \"$(.ci/postgres start)\" starts a throwaway one)", urlEnv)
	}
	return url
}

// newSchema returns a fresh schema name, dropped with everything in it
// when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	url := serverURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
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

// openStore opens a store on a fresh schema, closed when the test ends.
func openStore(t testing.TB, opts ...pgstore.Option) (*pgstore.Store, string) {
	t.Helper()
	schema := newSchema(t)
	s, err := pgstore.Open(context.Background(), serverURL(t), append([]pgstore.Option{pgstore.WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, schema
}

// newPool connects a pool of its own to the test server, closed when the
// test ends.
func newPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
