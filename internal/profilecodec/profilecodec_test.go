package profilecodec

import (
	"encoding/hex"
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

// withTokens is sample with what format 2 added: a device's token time
// and disowned devices.
func withTokens() profile.Profile {
	p := sample()
	p.Devices[0].TokenSeen = p.Devices[0].LastSeen
	p.Disowned = []profile.Disowned{{ID: "d9", At: p.Last.Time}, {ID: "d8", At: p.Devices[0].FirstSeen}}
	return p
}

// withUserAgents is withTokens with what format 3 added: the user agents
// of a device and of the latest login.
func withUserAgents() profile.Profile {
	p := withTokens()
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	p.Devices[0].UserAgent, p.Last.UserAgent = ua, ua
	return p
}

// format1 is sample() as format 1 wrote it, before devices had a token
// time and profiles disowned devices.
const format1 = "01020264310203783a3103783a32f6c182a0be67f6fbb9a3be670701f6919b97c067020c656d61696c5f6368616e6765077061796d656e740b3230332e302e3131332e39024e4c09416d7374657264616d02643200f6c182a0be67f6c182a0be6701000000000000010b3230332e302e3131332e3907f6c182a0be67f6fbb9a3be6701024e4c07f6c182a0be67f6fbb9a3be6701043131333602f6c182a0be67f6c182a0be67f6fbb9a3be670264310b3230332e302e3131332e390b3230332e302e3131332e3901024e4c024e4809416d7374657264616d8fc2f5285c2f4a409a999999999913400000000000003440f008"

func TestReadsFormat1(t *testing.T) {
	b, err := hex.DecodeString(format1)
	if err != nil {
		t.Fatal(err)
	}
	var got profile.Profile
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := sample(); !reflect.DeepEqual(want, got) {
		t.Errorf("format 1:\n got %+v\nwant %+v", got, want)
	}
}

// format2 is withTokens() as format 2 wrote it, before devices and the
// latest login had a user agent.
const format2 = "02020264310203783a3103783a32f6c182a0be67f6fbb9a3be670701f6919b97c067020c656d61696c5f6368616e6765077061796d656e740b3230332e302e3131332e39024e4c09416d7374657264616df6fbb9a3be6702643200f6c182a0be67f6c182a0be670100000000000000010b3230332e302e3131332e3907f6c182a0be67f6fbb9a3be6701024e4c07f6c182a0be67f6fbb9a3be6701043131333602f6c182a0be67f6c182a0be67f6fbb9a3be670264310b3230332e302e3131332e390b3230332e302e3131332e3901024e4c024e4809416d7374657264616d8fc2f5285c2f4a409a999999999913400000000000003440f00802026439f6fbb9a3be67026438f6c182a0be67"

func TestReadsFormat2(t *testing.T) {
	b, err := hex.DecodeString(format2)
	if err != nil {
		t.Fatal(err)
	}
	var got profile.Profile
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := withTokens(); !reflect.DeepEqual(want, got) {
		t.Errorf("format 2:\n got %+v\nwant %+v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []profile.Profile{{}, sample(), withTokens(), withUserAgents()} {
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
	p := withUserAgents()
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
	p := withUserAgents()
	f.Add(Encode(nil, &p))
	for _, old := range []string{format1, format2} {
		if b, err := hex.DecodeString(old); err == nil {
			f.Add(b)
		}
	}
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
