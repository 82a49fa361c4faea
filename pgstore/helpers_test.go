package pgstore_test

import (
	"context"
	"testing"

	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"
)

// openStore opens a store on a fresh schema, closed when the test ends.
func openStore(t testing.TB, opts ...pgstore.Option) (*pgstore.Store, string) {
	t.Helper()
	schema := pgtest.Schema(t)
	s, err := pgstore.Open(context.Background(), pgtest.URL(t), append([]pgstore.Option{pgstore.WithSchema(schema)}, opts...)...)
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
