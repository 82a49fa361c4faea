package geoip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"

	"github.com/atoguard/ato/signals"
)

// ErrUnsupportedDatabase is wrapped by the error [Open] returns for a file
// whose records it cannot read, or that holds another kind of data than
// asked for (an ASN database given as the location database, say).
var ErrUnsupportedDatabase = errors.New("unsupported database")

// An Option adds a database to [Open].
type Option func(*config)

type source struct {
	role string // the option that named it, for errors
	path string
}

type config struct {
	locations, asn, anonymous []source
}

// WithLocationDB adds a further location database, consulted for an address
// when those before it do not locate it. The free ip-location-db data ships
// IPv4 and IPv6 as two files: pass one to [Open] and the other here.
// It may be given more than once.
func WithLocationDB(path string) Option {
	return func(c *config) { c.locations = append(c.locations, source{"WithLocationDB", path}) }
}

// WithASN adds autonomous-system data: a GeoLite2-ASN (or GeoIP2-ISP, or
// DB-IP ASN) mmdb database, or an ip-location-db ASN CSV file of inclusive
// ranges "start,end,asn,organization" — addresses as text (asn-ipv4.csv,
// asn-ipv6.csv) or as decimal numbers (the -num files). A file ending in
// .csv is read as CSV, one ending in .mmdb as a database; any other is
// recognized by its content. A CSV file is loaded into memory at Open.
// It may be given more than once (ip-location-db ships IPv4 and IPv6
// separately); the first that knows an address wins.
func WithASN(path string) Option {
	return func(c *config) { c.asn = append(c.asn, source{"WithASN", path}) }
}

// WithAnonymous adds a GeoIP2-Anonymous-IP database. An address it lists
// as anonymous (any of is_anonymous, is_anonymous_vpn, is_public_proxy,
// is_tor_exit_node, is_residential_proxy) gets [signals.Location].Anonymous;
// one it lists with is_hosting_provider gets Hosting. It may be given more
// than once.
func WithAnonymous(path string) Option {
	return func(c *config) { c.anonymous = append(c.anonymous, source{"WithAnonymous", path}) }
}

// mmdb is one opened MaxMind-format database.
type mmdb struct {
	r        *maxminddb.Reader
	ipv4Only bool
	layout   layout // location databases only
}

// asnSource is an ASN mmdb database or a table loaded from CSV.
type asnSource struct {
	db    *mmdb
	table *asnTable
}

// DB locates IP addresses with MaxMind-format databases. It implements
// [signals.Locator]. Create one with [Open].
//
// # Thread Safety
//
// A DB is safe for concurrent use: any number of goroutines may call
// Locate at once. Close waits for lookups in progress to finish; after
// Close, Locate locates nothing.
type DB struct {
	mu        sync.RWMutex // held for reading during a lookup, for writing by Close
	closed    bool
	locations []*mmdb
	asn       []asnSource
	anonymous []*mmdb
	scratch   sync.Pool // *records
}

// records are decoding targets, reused across lookups through DB.scratch so
// that a lookup does not allocate them.
type records struct {
	nested nestedRecord
	flat   flatRecord
	asn    asnRecord
	anon   anonymousFlags
}

var _ signals.Locator = (*DB)(nil)

// Open opens the location database at path — a GeoIP2/GeoLite2 City or
// Country, a DB-IP City or Country Lite, or an ip-location-db mmdb file —
// and any databases the options add. The layout of each is detected from
// its metadata and records. Close the DB when done with it.
func Open(path string, opts ...Option) (*DB, error) {
	c := config{locations: []source{{"Open", path}}}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("geoip: nil Option")
		}
		opt(&c)
	}
	for _, list := range [][]source{c.locations, c.asn, c.anonymous} {
		for _, s := range list {
			if s.path == "" {
				return nil, fmt.Errorf("geoip: %s: empty path", s.role)
			}
		}
	}
	db := &DB{}
	if err := db.open(&c); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) open(c *config) error {
	for _, s := range c.locations {
		m, err := openMMDB(s, kindLocation)
		if err != nil {
			return err
		}
		db.locations = append(db.locations, m)
	}
	for _, s := range c.asn {
		csv, sniffed, err := isCSV(s.path)
		if err != nil {
			return sourceError(s, err)
		}
		if csv {
			t, err := loadASNCSV(s.path)
			if err != nil && sniffed {
				err = fmt.Errorf("no MaxMind DB metadata, so read as CSV: %w", err)
			}
			if err != nil {
				return sourceError(s, err)
			}
			db.asn = append(db.asn, asnSource{table: t})
			continue
		}
		m, err := openMMDB(s, kindASN)
		if err != nil {
			return err
		}
		db.asn = append(db.asn, asnSource{db: m})
	}
	for _, s := range c.anonymous {
		m, err := openMMDB(s, kindAnonymous)
		if err != nil {
			return err
		}
		db.anonymous = append(db.anonymous, m)
	}
	return nil
}

// sourceError prefixes err with the option and, unless err names it
// already, the path.
func sourceError(s source, err error) error {
	if _, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("geoip: %s: %w", s.role, err)
	}
	return fmt.Errorf("geoip: %s %s: %w", s.role, s.path, err)
}

func openMMDB(s source, want kind) (*mmdb, error) {
	r, err := maxminddb.Open(s.path)
	if err != nil {
		return nil, sourceError(s, err)
	}
	sh, err := detect(r)
	if err == nil && sh.kind != want {
		err = fmt.Errorf("it is %s, not %s", sh.kind, want)
	}
	if err != nil {
		_ = r.Close()
		return nil, sourceError(s, fmt.Errorf("%w: %w", ErrUnsupportedDatabase, err))
	}
	return &mmdb{r: r, ipv4Only: r.Metadata.IPVersion == 4, layout: sh.layout}, nil
}

// metadataMarker starts the metadata section at the end of every mmdb file.
var metadataMarker = []byte("\xab\xcd\xefMaxMind.com")

// isCSV tells a CSV file from an mmdb database: by extension, else by
// looking for the mmdb metadata marker, which lies in a file's last 128 KiB;
// sniffed reports the latter.
func isCSV(path string) (csv, sniffed bool, err error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return true, false, nil
	case ".mmdb":
		return false, false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, true, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, true, err
	}
	const tail = 128 << 10
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return false, true, err
	}
	return !bytes.Contains(buf, metadataMarker), true, nil
}

// Locate returns where ip is. ok is false, and the Location zero, when no
// location database has a country or coordinates for it, and always for
// the reserved and special-purpose addresses listed in the package
// documentation. An IPv4-mapped IPv6 address (::ffff:1.2.3.4) is located as
// the IPv4 address; a zone is ignored. A record that cannot be decoded
// counts as unknown.
//
// ASN and the Anonymous and Hosting flags are filled in only for an address
// that is located.
func (db *DB) Locate(ip netip.Addr) (loc signals.Location, ok bool) {
	if !ip.IsValid() {
		return loc, false
	}
	ip = ip.Unmap()
	if ip.Zone() != "" {
		ip = ip.WithZone("")
	}
	if isReserved(ip) {
		return loc, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return loc, false
	}
	rec, _ := db.scratch.Get().(*records)
	if rec == nil {
		rec = new(records)
	}
	defer db.scratch.Put(rec)

	for _, m := range db.locations {
		if m.skips(ip) {
			continue
		}
		res := m.r.Lookup(ip)
		if !res.Found() {
			continue
		}
		var l signals.Location
		switch m.layout {
		case nested:
			r := &rec.nested
			subs := r.Subdivisions[:0]
			*r = nestedRecord{Subdivisions: subs}
			ok = res.Decode(r) == nil && fillNested(r, &l)
		case flat:
			r := &rec.flat
			*r = flatRecord{}
			ok = res.Decode(r) == nil && fillFlat(r, &l)
		}
		if ok {
			loc = l
			break
		}
	}
	if !ok {
		return signals.Location{}, false
	}

	for _, s := range db.asn {
		if s.table != nil {
			if asn, org, found := s.table.lookup(ip); found && asn != 0 {
				loc.ASN, loc.ASOrg = asn, org
				break
			}
			continue
		}
		if s.db.skips(ip) {
			continue
		}
		res := s.db.r.Lookup(ip)
		if !res.Found() {
			continue
		}
		rec.asn = asnRecord{}
		if res.Decode(&rec.asn) == nil && rec.asn.Number != 0 {
			loc.ASN, loc.ASOrg = rec.asn.Number, rec.asn.Organization
			break
		}
	}

	for _, m := range db.anonymous {
		if m.skips(ip) {
			continue
		}
		res := m.r.Lookup(ip)
		if !res.Found() {
			continue
		}
		rec.anon = anonymousFlags{}
		if res.Decode(&rec.anon) == nil {
			loc.Anonymous = loc.Anonymous || rec.anon.anonymous()
			loc.Hosting = loc.Hosting || rec.anon.IsHostingProvider
		}
	}
	return loc, true
}

// skips reports that ip cannot be in the database: an IPv6 address and an
// IPv4-only database.
func (m *mmdb) skips(ip netip.Addr) bool { return m.ipv4Only && !ip.Is4() }

// Close releases the databases. It waits for lookups in progress. Calling
// it again does nothing and returns nil.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	var errs []error
	closeDB := func(m *mmdb) {
		if err := m.r.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range db.locations {
		closeDB(m)
	}
	for _, s := range db.asn {
		if s.db != nil {
			closeDB(s.db)
		}
	}
	for _, m := range db.anonymous {
		closeDB(m)
	}
	db.locations, db.asn, db.anonymous = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("geoip: close: %w", err)
	}
	return nil
}
