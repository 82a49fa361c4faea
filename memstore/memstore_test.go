package memstore_test

import (
	"testing"

	"github.com/atoguard/ato/memstore"
	"github.com/atoguard/ato/storage"
	"github.com/atoguard/ato/storage/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return memstore.New() })
}
