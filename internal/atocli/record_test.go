package atocli

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/sqlitestore"
	"github.com/atoguard/ato/storage"
	"github.com/stretchr/testify/require"
)

// The tests run the tool on a store that a real run of the engine filled:
// a month of logins of a small population (homes, phones, a few trips), an
// attacker, and challenges completed as people complete them.

// places is the test's geography, by the first three octets of an IP.
var testPlaces = map[string]signals.Location{
	"198.51.100": {Country: "NL", Region: "North Holland", City: "Amsterdam", Latitude: 52.37, Longitude: 4.89, AccuracyKm: 20, ASN: 1136},
	"203.0.113":  {Country: "NL", Region: "South Holland", City: "Rotterdam", Latitude: 51.92, Longitude: 4.48, AccuracyKm: 50, ASN: 33915},
	"192.0.2":    {Country: "PT", Region: "Lisbon", City: "Lisbon", Latitude: 38.72, Longitude: -9.14, AccuracyKm: 20, ASN: 3243},
	"100.64.10":  {Country: "NG", Region: "Lagos", City: "Lagos", Latitude: 6.45, Longitude: 3.39, AccuracyKm: 50, ASN: 37148},
}

type mapLocator struct{}

func (mapLocator) Locate(ip netip.Addr) (signals.Location, bool) {
	s := ip.String()
	loc, ok := testPlaces[s[:strings.LastIndexByte(s, '.')]]
	return loc, ok
}

// fixture is a recorded history: the store's file and what went into it.
type fixture struct {
	db        string
	start     time.Time
	end       time.Time
	users     []string
	travelers []string
	victims   []string
	events    int
}

const (
	fixtureUsers     = 24
	fixtureDays      = 30
	fixtureTravelers = 4 // the first users travel to Lisbon on days 21-24
	fixtureVictims   = 3 // the attacker tries the last users' passwords on day 27
)

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	theFixture  fixture
)

// recorded returns a copy of the recorded store, made once per test run.
func recorded(t *testing.T) fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		// A directory that outlives the test that made it: the tests
		// share the fixture, each with its own copy.
		fixtureDir, fixtureErr = osMkdirTemp()
		if fixtureErr == nil {
			theFixture, fixtureErr = recordFixture(filepath.Join(fixtureDir, "recorded.db"))
		}
	})
	require.NoError(t, fixtureErr)
	f := theFixture
	f.db = filepath.Join(t.TempDir(), "ato.db")
	require.NoError(t, copyFile(theFixture.db, f.db))
	return f
}

// fixtureSecret is the engine secret of the fixture's store: an engine on
// a copy of it opens its authenticator apps under the same.
var fixtureSecret = bytes.Repeat([]byte{7}, 32)

// recordFixture runs the engine over a month of the population's logins into a
// SQLite file.
func recordFixture(path string) (fixture, error) {
	ctx := context.Background()
	st, err := sqlitestore.Open(path)
	if err != nil {
		return fixture{}, err
	}
	defer st.Close()
	f := fixture{db: path, start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	now := f.start
	outbox := challenge.NewOutbox()
	eng, err := ato.New(st, ato.WithClock(func() time.Time { return now }), ato.WithLocator(mapLocator{}),
		ato.WithSecret(fixtureSecret), ato.WithSender(outbox))
	if err != nil {
		return fixture{}, err
	}
	for i := range fixtureUsers {
		f.users = append(f.users, fmt.Sprintf("user%02d@example.com", i))
	}
	f.travelers = f.users[:fixtureTravelers]
	f.victims = f.users[len(f.users)-fixtureVictims:]
	// complete passes a challenge as its owner does.
	complete := func(id string) error {
		if err := eng.SendChallengeCode(ctx, id, challenge.Email); err != nil {
			return err
		}
		m, _ := outbox.Last(id)
		if ok, err := eng.VerifyChallengeCode(ctx, id, m.Code); err != nil || !ok {
			return fmt.Errorf("verify %s: %v %v", id, ok, err)
		}
		return eng.CompleteChallenge(ctx, id)
	}
	login := func(user, action, device, ip string, owner bool) error {
		res, err := eng.Evaluate(ctx, ato.Request{User: user, Action: ato.Action(action), Fingerprint: device, IP: ip,
			Email: user, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"})
		if err != nil {
			return err
		}
		f.events++
		if res.ChallengeID != "" && owner {
			now = now.Add(time.Minute)
			return complete(res.ChallengeID)
		}
		return nil
	}
	for day := range fixtureDays {
		for i, u := range f.users {
			now = f.start.AddDate(0, 0, day).Add(time.Duration(7*60+i*13) * time.Minute)
			home := fmt.Sprintf("198.51.100.%d", 10+i)
			laptop := fmt.Sprintf("laptop-%02d", i)
			action := "login"
			if day == 0 {
				action = "signup"
			}
			traveling := i < fixtureTravelers && day >= 21 && day <= 24
			ip := home
			if traveling {
				ip = fmt.Sprintf("192.0.2.%d", 20+i)
			}
			if err := login(u, action, laptop, ip, true); err != nil {
				return fixture{}, fmt.Errorf("day %d, %s: %w", day, u, err)
			}
			if day%3 == 1 { // the phone, on the mobile network
				now = now.Add(9 * time.Hour)
				if err := login(u, "login", fmt.Sprintf("phone-%02d", i), fmt.Sprintf("203.0.113.%d", 10+i%5), true); err != nil {
					return fixture{}, err
				}
			}
		}
		if day == 27 {
			for i, v := range f.victims {
				now = f.start.AddDate(0, 0, day).Add(time.Duration(3*60+i) * time.Minute)
				if err := login(v, "login", "attacker-box", fmt.Sprintf("100.64.10.%d", 5+i), false); err != nil {
					return fixture{}, err
				}
			}
		}
	}
	f.end = now
	return f, nil
}

// storeEvents counts the events the store holds.
func storeEvents(t *testing.T, db string) (n int) {
	t.Helper()
	st, err := sqlitestore.OpenReadOnly(db)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.ExportEvents(context.Background(), time.Time{}, func(storage.Event) error { n++; return nil }))
	return n
}
