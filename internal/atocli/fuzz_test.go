package atocli

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip writes the event as a line and reads it back.
func roundTrip(t testing.TB, e *storage.Event) (storage.Event, error) {
	line := appendEvent(nil, e)
	r := newReader(bytes.NewReader(append(line, '\n')))
	var rec record
	if err := r.next(&rec); err != nil {
		return storage.Event{}, err
	}
	if rec.typ != typeEvent {
		t.Fatalf("%s read as a %q", line, rec.typ)
	}
	return rec.event, nil
}

func TestEventLines(t *testing.T) {
	e := storage.Event{
		ID: "e1", User: "zoë \"the\" user\\\u2028", Time: time.Date(2026, 5, 4, 8, 0, 0, 123e6, time.UTC),
		Kind: storage.KindEvaluation, Action: "login", Verdict: "challenge", DeviceID: "d1", IP: "2001:db8::1", Network: "2001:db8::/64",
		Located: true, Country: "NL", Region: "Noord-Holland", City: "’s-Hertogenbosch", Latitude: 51.69, Longitude: -5.3, AccuracyKm: 20, ASN: 1136,
		Reasons: []string{"new_device", "new_ip"}, ChallengeID: "c1",
	}
	got, err := roundTrip(t, &e)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	// A location at 0,0 is a location.
	e = storage.Event{ID: "e2", User: "u", Time: e.Time, Kind: storage.KindChallengeCompleted, Success: true, Located: true}
	got, err = roundTrip(t, &e)
	require.NoError(t, err)
	assert.Equal(t, e, got)

	// Invalid UTF-8 is written as U+FFFD, as encoding/json does.
	e.User = "bad\xffname"
	got, err = roundTrip(t, &e)
	require.NoError(t, err)
	assert.Equal(t, "bad\ufffdname", got.User)
}

// FuzzReadExport: any input is read without a panic, as records or as an
// error naming a line; every event read is one the replay and the import
// can take, and writes back as a line that reads as the same event.
func FuzzReadExport(f *testing.F) {
	hist := synthHistory(3, 2, 9)
	for _, l := range bytes.Split(hist, []byte("\n")) {
		f.Add(l)
	}
	f.Add(hist)
	f.Add([]byte(`{"type":"user","user":"u","profile":{"devices":[{"id":"d","first_seen":"2026-05-04T08:00:00Z"}]},"hashes":[{"device_id":"d","hashes":["ab"]}]}`))
	f.Add([]byte(`{"type":"user","user":"u","profile":{},"factors":[{"kind":"totp","secret":"c2VhbGVk","confirmed":true,"last_step":59000123,"failures":2,"failed_at":"2026-05-04T08:00:00Z"}]}`))
	f.Add([]byte(`{"type":"device","id":"d","users":[{"user":"u","last_seen":"2026-05-04T08:00:00Z"}]}`))
	f.Add([]byte(`{"type":"event","user":"\ud83d\ude00","time":"2026-05-04T08:00:00+02:00","location":{"lat":1e308,"asn":4294967295}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReader(bytes.NewReader(data))
		var rec record
		for range 1000 {
			err := r.next(&rec)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) || le.Line < 1 || !strings.HasPrefix(err.Error(), "line ") {
					t.Fatalf("an error without its line: %v", err)
				}
				return
			}
			if rec.typ != typeEvent {
				continue
			}
			if fe := checkEvent(&rec.event); fe != nil {
				t.Fatalf("an event read that fails its check: %v", fe)
			}
			back, err := roundTrip(t, &rec.event)
			if err != nil {
				t.Fatalf("%+v writes as a line that does not read: %v", rec.event, err)
			}
			if !eventsEqual(&back, &rec.event) {
				t.Fatalf("round trip:\n%+v\n%+v", rec.event, back)
			}
		}
	})
}

// eventsEqual compares events; a nil and an empty list of reasons are
// the same.
func eventsEqual(a, b *storage.Event) bool {
	x, y := *a, *b
	if !x.Time.Equal(y.Time) || !slices.Equal(x.Reasons, y.Reasons) {
		return false
	}
	x.Time, y.Time, x.Reasons, y.Reasons = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(x, y)
}

// rawStrBytewise is what rawStr finds, one byte at a time: the reference
// its eight-bytes-at-a-time scan is held to.
func rawStrBytewise(b []byte) (raw []byte, end int, ok bool) {
	for i := 1; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return b[1:i], i + 1, true
		case c == '\\':
			i += 2
		case c < 0x20:
			return nil, i, false
		default:
			i++
		}
	}
	return nil, len(b), false
}

func TestRawStrAgreesWithABytewiseScan(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', 'Z', ' ', '"', '\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xff, '\n'}
	for range 20000 {
		b := []byte{'"'}
		for range r.IntN(40) {
			if r.IntN(4) == 0 {
				b = append(b, alphabet[r.IntN(len(alphabet))])
			} else {
				b = append(b, byte('a'+r.IntN(26)))
			}
		}
		p := parser{b: b}
		got, err := p.rawStr()
		want, end, ok := rawStrBytewise(b)
		if ok != (err == nil) || string(got) != string(want) || ok && p.i != end {
			t.Fatalf("%q: got %q, %v (at %d); want %q, ok %v (at %d)", b, got, err, p.i, want, ok, end)
		}
	}
}
