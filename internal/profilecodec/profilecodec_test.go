package profilecodec

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/atoguard/ato/profile"
)

func sample() profile.Profile {
	t := time.Date(2026, 5, 4, 8, 0, 0, 123_000_000, time.UTC)
	return profile.Profile{
		Devices: []profile.Device{
			{ID: "d1", Keys: []string{"x:1", "x:2"}, FirstSeen: t, LastSeen: t.Add(time.Hour), Logins: 7, Trusted: true,
				RestrictedUntil: t.Add(72 * time.Hour), Restrictions: []string{"email_change", "payment"},
				IP: "203.0.113.9", Country: "NL", City: "Amsterdam"},
			{ID: "d2", FirstSeen: t, LastSeen: t, Logins: 1},
		},
		Networks:  []profile.Place{{Key: "203.0.113.9", Logins: 7, FirstSeen: t, LastSeen: t.Add(time.Hour)}},
		Countries: []profile.Place{{Key: "NL", Logins: 7, FirstSeen: t, LastSeen: t.Add(time.Hour)}},
		ASNs:      []profile.Place{{Key: "1136", Logins: 2, FirstSeen: t, LastSeen: t}},
		Last: profile.Login{Time: t.Add(time.Hour), DeviceID: "d1", IP: "203.0.113.9", Network: "203.0.113.9",
			Located: true, Country: "NL", Region: "NH", City: "Amsterdam", Latitude: 52.37, Longitude: 4.9, AccuracyKm: 20, ASN: 1136},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []profile.Profile{{}, sample()} {
		var got profile.Profile
		if err := Decode(Encode(nil, &p), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, got) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, p)
		}
	}
}

func TestCorruptInputIsAnError(t *testing.T) {
	p := sample()
	b := Encode(nil, &p)
	for n := range len(b) {
		var got profile.Profile
		if err := Decode(b[:n], &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a profile cut at %d of %d bytes decoded: %v", n, len(b), err)
		}
	}
	if err := Decode(append(b, 0), &profile.Profile{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing bytes decoded: %v", err)
	}
	huge := []byte{format, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if err := Decode(huge, &profile.Profile{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a count past the input decoded: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	p := sample()
	f.Add(Encode(nil, &p))
	f.Add(Encode(nil, &profile.Profile{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var got profile.Profile
		if err := Decode(b, &got); err != nil {
			return
		}
		// What decodes encodes back to bytes that decode to the same
		// (compared as bytes: a NaN is not equal to itself).
		enc := Encode(nil, &got)
		var again profile.Profile
		if err := Decode(enc, &again); err != nil {
			t.Fatalf("re-encoding a decoded profile: %v", err)
		}
		if string(Encode(nil, &again)) != string(enc) {
			t.Fatalf("re-encoded profile differs:\n%+v\n%+v", got, again)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	p := sample()
	data := Encode(nil, &p)
	b.ReportAllocs()
	for b.Loop() {
		var got profile.Profile
		if err := Decode(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}
