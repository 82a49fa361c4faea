// Package profilecodec encodes a [profile.Profile] as compact bytes, for
// the stores that keep a profile in one column. The user and the version
// are not part of it: stores keep them in columns of their own.
//
// The format is a byte 3, then the devices, the networks, countries and
// ASNs, the latest login and the disowned devices, each field in order: counts and integers as
// unsigned varints, times as signed varints of UTC unix milliseconds (0 for
// the zero time), strings as a varint length and the bytes, floats as 8
// bytes of their IEEE 754 bits, little-endian, bools as one byte. Decoding
// slices every string out of one copy of the input and every list out of
// one array per kind, so a profile costs a handful of allocations whatever
// its size, and it checks every length against what is left: corrupt
// input is an error, never a panic or a huge allocation.
package profilecodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/atoguard/ato/profile"
)

// format is the first byte of an encoded profile. Format 1, written before
// devices had a token time and profiles disowned devices, is read as
// format 2 without them; format 2, written before devices and the latest
// login had a user agent, as format 3 without one.
const format = 3

// ErrCorrupt is returned for bytes that are not an encoded profile.
var ErrCorrupt = errors.New("profilecodec: corrupt profile")

// Encode appends the encoding of p to b.
func Encode(b []byte, p *profile.Profile) []byte {
	b = append(b, format)
	b = binary.AppendUvarint(b, uint64(len(p.Devices)))
	for i := range p.Devices {
		d := &p.Devices[i]
		b = appendString(b, d.ID)
		b = appendStrings(b, d.Keys)
		b = appendTime(b, d.FirstSeen)
		b = appendTime(b, d.LastSeen)
		b = binary.AppendUvarint(b, uint64(max(d.Logins, 0)))
		b = appendBool(b, d.Trusted)
		b = appendTime(b, d.RestrictedUntil)
		b = appendStrings(b, d.Restrictions)
		b = appendString(b, d.IP)
		b = appendString(b, d.Country)
		b = appendString(b, d.City)
		b = appendTime(b, d.TokenSeen)
		b = appendString(b, d.UserAgent)
	}
	for _, places := range [][]profile.Place{p.Networks, p.Countries, p.ASNs} {
		b = binary.AppendUvarint(b, uint64(len(places)))
		for _, pl := range places {
			b = appendString(b, pl.Key)
			b = binary.AppendUvarint(b, uint64(max(pl.Logins, 0)))
			b = appendTime(b, pl.FirstSeen)
			b = appendTime(b, pl.LastSeen)
		}
	}
	l := &p.Last
	b = appendTime(b, l.Time)
	b = appendString(b, l.DeviceID)
	b = appendString(b, l.IP)
	b = appendString(b, l.Network)
	b = appendBool(b, l.Located)
	b = appendString(b, l.Country)
	b = appendString(b, l.Region)
	b = appendString(b, l.City)
	b = appendFloat(b, l.Latitude)
	b = appendFloat(b, l.Longitude)
	b = appendFloat(b, l.AccuracyKm)
	b = binary.AppendUvarint(b, uint64(l.ASN))
	b = appendString(b, l.UserAgent)
	b = binary.AppendUvarint(b, uint64(len(p.Disowned)))
	for _, d := range p.Disowned {
		b = appendString(b, d.ID)
		b = appendTime(b, d.At)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixMilli())
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// Decode decodes data into p, leaving p's User and Version as they are.
func Decode(data []byte, p *profile.Profile) error {
	d := decoder{s: string(data)}
	f := d.byte()
	if f < 1 || f > format {
		return fmt.Errorf("%w: unknown format", ErrCorrupt)
	}
	// Counts come first: each list gets one backing array.
	n := d.count(8)
	if d.err != nil {
		return d.err
	}
	var devices []profile.Device
	if n > 0 {
		devices = make([]profile.Device, n)
	}
	var strs []string // every device's keys and restrictions
	for i := range devices {
		dv := &devices[i]
		dv.ID = d.string()
		dv.Keys, strs = d.strings(strs)
		dv.FirstSeen = d.time()
		dv.LastSeen = d.time()
		dv.Logins = d.int()
		dv.Trusted = d.bool()
		dv.RestrictedUntil = d.time()
		dv.Restrictions, strs = d.strings(strs)
		dv.IP, dv.Country, dv.City = d.string(), d.string(), d.string()
		if f >= 2 {
			dv.TokenSeen = d.time()
		}
		if f >= 3 {
			dv.UserAgent = d.string()
		}
	}
	var lists [3][]profile.Place
	for k := range lists {
		n := d.count(4)
		if d.err != nil {
			return d.err
		}
		if n == 0 {
			continue
		}
		lists[k] = make([]profile.Place, n)
		for i := range lists[k] {
			pl := &lists[k][i]
			pl.Key = d.string()
			pl.Logins = d.int()
			pl.FirstSeen = d.time()
			pl.LastSeen = d.time()
		}
	}
	var l profile.Login
	l.Time = d.time()
	l.DeviceID, l.IP, l.Network = d.string(), d.string(), d.string()
	l.Located = d.bool()
	l.Country, l.Region, l.City = d.string(), d.string(), d.string()
	l.Latitude, l.Longitude, l.AccuracyKm = d.float(), d.float(), d.float()
	asn := d.uvarint()
	if d.err == nil && asn > math.MaxUint32 {
		d.fail("asn")
	}
	if f >= 3 {
		l.UserAgent = d.string()
	}
	var disowned []profile.Disowned
	if f >= 2 {
		if n := d.count(2); n > 0 && d.err == nil {
			disowned = make([]profile.Disowned, n)
			for i := range disowned {
				disowned[i] = profile.Disowned{ID: d.string(), At: d.time()}
			}
		}
	}
	if d.err == nil && d.s != "" {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	l.ASN = uint32(asn)
	p.Devices, p.Networks, p.Countries, p.ASNs, p.Last = devices, lists[0], lists[1], lists[2], l
	p.Disowned = disowned
	return nil
}

// decoder reads an encoded profile; the first error sticks and every read
// after it returns a zero value.
type decoder struct {
	s   string
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	d.s = ""
}

func (d *decoder) byte() byte {
	if d.s == "" {
		d.fail("format")
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		if d.s == "" {
			d.fail("number")
			return 0
		}
		c := d.s[0]
		d.s = d.s[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.fail("number")
	return 0
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// count reads a count of entries that take at least min bytes each, so a
// count larger than what is left is refused before anything is allocated.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)/min) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail("count")
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail("string")
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

// strings reads a list of strings into the shared array buf, returning the
// list (nil when empty) and buf.
func (d *decoder) strings(buf []string) ([]string, []string) {
	n := d.count(1)
	if n == 0 {
		return nil, buf
	}
	if cap(buf)-len(buf) < n {
		buf = make([]string, 0, max(2*cap(buf), n, 16))
	}
	start := len(buf)
	for range n {
		buf = append(buf, d.string())
	}
	return buf[start:len(buf):len(buf)], buf
}

func (d *decoder) time() time.Time {
	v := d.varint()
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("flag")
	return false
}

func (d *decoder) float() float64 {
	if len(d.s) < 8 {
		d.fail("number")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64([]byte(d.s[:8])))
	d.s = d.s[8:]
	return v
}
