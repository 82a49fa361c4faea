package pgstore_test

import (
	"testing"

	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/storage/storetest"
)

func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) storage.Store {
		s, _ := openStore(t)
		return s
	})
}
