package eventjson_test

import (
	"testing"
	"time"

	"github.com/atoguard/ato/internal/eventjson"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	for _, e := range []storage.Event{
		{},
		{ID: "e1", User: "alice", Time: time.Date(2026, 5, 4, 8, 0, 0, 123_000_000, time.UTC), Kind: storage.KindEvaluation,
			Action: "login", Verdict: "challenge", DeviceID: "d1", IP: "192.0.2.1", Network: "192.0.2.1", Located: true,
			Country: "NZ", Region: "Auckland", City: "Auckland", Latitude: -36.8, Longitude: 174.7, AccuracyKm: 20,
			ASN: 4242, Reasons: []string{"new_device", "new_ip"}, ChallengeID: "c1", Success: true},
	} {
		b, err := eventjson.Encode(&e)
		require.NoError(t, err)
		got, err := eventjson.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, e, got)
	}
}

func TestStoredNamesStay(t *testing.T) {
	// The names are stored in databases: a rename would lose fields.
	got, err := eventjson.Decode([]byte(`{"id":"e","time":1000,"lat":1.5,"lon":2.5,"accuracy_km":3,"device_id":"d","challenge_id":"c"}`))
	require.NoError(t, err)
	assert.Equal(t, storage.Event{ID: "e", Time: time.UnixMilli(1000).UTC(), Latitude: 1.5, Longitude: 2.5, AccuracyKm: 3,
		DeviceID: "d", ChallengeID: "c"}, got)
	_, err = eventjson.Decode([]byte(`{`))
	require.Error(t, err)
}
