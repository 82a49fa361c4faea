package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/ato"
	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/fakehash"
	"github.com/atoguard/ato/internal/pgtest"
	"github.com/atoguard/ato/pgstore"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The instances of an app share one database: these tests run several
// stores, each on a pool of its own — in one process, and in several
// processes — against one schema, and check what must hold across them.

// hammerSetup is what the instances of a hammer run share: the schema,
// and the challenge the parent verified for them to complete.
type hammerSetup struct {
	Schema    string `json:"schema"`
	Challenge string `json:"challenge"`
	Seed      uint64 `json:"seed"`
}

// hammerReport is what one instance saw.
type hammerReport struct {
	// DeviceIDs are the ids the shared fingerprint got for this
	// instance's users.
	DeviceIDs []string `json:"device_ids"`
	// Completed counts this instance's completions of the shared
	// challenge that succeeded, Refused those refused because another
	// completed it.
	Completed, Refused int
	// Challenged counts the challenges created for the limited user.
	Challenged int
	Errors     []string `json:"errors"`
}

const (
	failuresPerInstance   = 15 // × 4 instances: under the 64 kept per user
	sightingsPerInstance  = 4
	limitedPerInstance    = 8 // × 4 instances: well over the 10 an hour
	completionsPerInstace = 3
)

// testSecret is the engines' key: instances of one app share it.
var testSecret = []byte("pgstore tests: the secret every instance shares")

// hammerClock is every instance's clock: time stands still, so that every
// attempt falls in the same hour and the challenge stays valid.
func hammerClock() time.Time { return time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC) }

// sharedFingerprint is the fingerprint every instance sees first at once.
func sharedFingerprint(seed uint64) string { return fakehash.Random(rand.New(rand.NewPCG(seed, 1))) }

// hammer is one instance's part: at once, failed passwords for the victim,
// first sightings of the shared fingerprint by users of its own, new
// devices of the limited user, and completions of the shared challenge.
func hammer(ctx context.Context, s *pgstore.Store, instance int, setup hammerSetup) hammerReport {
	var rep hammerReport
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		rep.Errors = append(rep.Errors, err.Error())
		mu.Unlock()
	}
	e, err := ato.New(s, ato.WithClock(hammerClock), ato.WithSecret(testSecret))
	if err != nil {
		fail(err)
		return rep
	}
	shared := sharedFingerprint(setup.Seed)
	r := rand.New(rand.NewPCG(setup.Seed, uint64(instance)+2))
	var fresh []string
	for range limitedPerInstance {
		fresh = append(fresh, fakehash.Random(r))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range failuresPerInstance {
			if err := e.RecordFailure(ctx, ato.Request{User: "victim", IP: fmt.Sprintf("10.%d.0.%d", instance, i)}); err != nil {
				fail(err)
			}
		}
	})
	for j := range sightingsPerInstance {
		wg.Go(func() {
			res, err := e.Evaluate(ctx, ato.Request{User: fmt.Sprintf("i%d-u%d", instance, j), Fingerprint: shared,
				IP: fmt.Sprintf("192.0.2.%d", instance*10+j)})
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			rep.DeviceIDs = append(rep.DeviceIDs, res.FingerprintID)
			mu.Unlock()
		})
	}
	wg.Go(func() {
		for _, fp := range fresh {
			res, err := e.Evaluate(ctx, ato.Request{User: "limited", Fingerprint: fp, IP: "198.51.100.99"})
			if err != nil {
				fail(err)
				continue
			}
			if res.ChallengeID != "" {
				mu.Lock()
				rep.Challenged++
				mu.Unlock()
			}
		}
	})
	for range completionsPerInstace {
		wg.Go(func() {
			err := e.CompleteChallenge(ctx, setup.Challenge)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				rep.Completed++
			case errors.Is(err, ato.ErrChallengeCompleted) || errors.Is(err, ato.ErrChallengeNotVerified):
				rep.Refused++
			default:
				rep.Errors = append(rep.Errors, err.Error())
			}
		})
	}
	wg.Wait()
	return rep
}

// prepareHammer makes the schema's users and the verified challenge the
// instances complete.
func prepareHammer(t *testing.T, s *pgstore.Store, schema string) hammerSetup {
	t.Helper()
	ctx := t.Context()
	outbox := challenge.NewOutbox()
	e, err := ato.New(s, ato.WithClock(hammerClock), ato.WithSecret(testSecret), ato.WithSender(outbox))
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(7, 7))
	for _, user := range []string{"owner", "limited"} {
		_, err := e.Evaluate(ctx, ato.Request{User: user, Fingerprint: fakehash.Random(r), IP: "203.0.113.9"})
		require.NoError(t, err)
	}
	res, err := e.Evaluate(ctx, ato.Request{User: "owner", Fingerprint: fakehash.Random(r), IP: "198.51.100.1", Email: "owner@example.com"})
	require.NoError(t, err)
	require.NotEmpty(t, res.ChallengeID, "a new device on a new network: %s %v", res.Verdict, res.Reasons)
	require.NoError(t, e.SendChallengeCode(ctx, res.ChallengeID, challenge.Email))
	msg, ok := outbox.Last(res.ChallengeID)
	require.True(t, ok)
	verified, err := e.VerifyChallengeCode(ctx, res.ChallengeID, msg.Code)
	require.NoError(t, err)
	require.True(t, verified)
	return hammerSetup{Schema: schema, Challenge: res.ChallengeID, Seed: 42}
}

// checkHammer checks, in the database, what the instances' reports add up
// to.
func checkHammer(t *testing.T, s *pgstore.Store, reports []hammerReport) {
	t.Helper()
	ctx := t.Context()
	var ids []string
	completed, challenged := 0, 0
	for i, rep := range reports {
		assert.Empty(t, rep.Errors, "instance %d", i)
		ids = append(ids, rep.DeviceIDs...)
		completed += rep.Completed
		challenged += rep.Challenged
		assert.Equal(t, completionsPerInstace, rep.Completed+rep.Refused, "instance %d: every completion succeeded or was refused", i)
	}
	assert.Equal(t, 1, completed, "exactly one completion of the challenge wins")

	require.Len(t, ids, len(reports)*sightingsPerInstance)
	for _, id := range ids {
		assert.Equal(t, ids[0], id, "concurrent first sightings of one fingerprint get one device id")
	}

	st, err := s.Load(ctx, storage.LoadRequest{User: "victim",
		Failures: &storage.FailureQuery{UserSince: hammerClock().Add(-time.Hour), MaxUser: 1000, MaxNetworkUsers: 1}})
	require.NoError(t, err)
	assert.Equal(t, len(reports)*failuresPerInstance, st.Failures.User, "every concurrent failure of one user is counted")

	st, err = s.Load(ctx, storage.LoadRequest{User: "limited", Challenges: &storage.ChallengeQuery{Since: hammerClock().Add(-time.Hour), Max: 1000}})
	require.NoError(t, err)
	assert.Equal(t, ato.DefaultChallengeLimits.PerHour, st.Challenges, "the per-user challenge limit holds, and is reached")
	assert.Equal(t, ato.DefaultChallengeLimits.PerHour, challenged, "as many challenges reported as stored")
}

// TestInstancesShareOneDatabase runs four stores, each with a pool of its
// own, opened at once on one new schema (they migrate it together), in
// one process.
func TestInstancesShareOneDatabase(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t)
	ctx := t.Context()
	stores := make([]*pgstore.Store, 4)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = pgstore.Open(ctx, url, pgstore.WithSchema(schema)) })
	}
	wg.Wait()
	for i, s := range stores {
		require.NoError(t, errs[i], "instance %d opening a new schema with the others", i)
		t.Cleanup(func() { s.Close() })
	}
	setup := prepareHammer(t, stores[0], schema)
	reports := make([]hammerReport, len(stores))
	for i, s := range stores {
		wg.Go(func() { reports[i] = hammer(ctx, s, i, setup) })
	}
	wg.Wait()
	checkHammer(t, stores[0], reports)
}

// childEnv names the environment variable that makes TestChildInstance
// an instance of TestInstancesInSeveralProcesses: the hammerSetup, and the
// instance's number after a space.
const childEnv = "ATO_PGSTORE_CHILD"

// TestInstancesInSeveralProcesses runs four instances as four processes
// (this test binary again, running TestChildInstance).
func TestInstancesInSeveralProcesses(t *testing.T) {
	url := pgtest.URL(t)
	s, schema := openStore(t)
	setup := prepareHammer(t, s, schema)
	b, err := json.Marshal(setup)
	require.NoError(t, err)
	reports := make([]hammerReport, 4)
	outs := make([][]byte, len(reports))
	errs := make([]error, len(reports))
	var wg sync.WaitGroup
	for i := range reports {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildInstance$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+string(b)+" "+strconv.Itoa(i), pgtest.Env+"="+url)
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for i, out := range outs {
		require.NoError(t, errs[i], "instance %d:\n%s", i, out)
		_, line, ok := strings.Cut(string(out), "REPORT ")
		require.True(t, ok, "instance %d printed no report:\n%s", i, out)
		line, _, _ = strings.Cut(line, "\n")
		require.NoError(t, json.Unmarshal([]byte(line), &reports[i]), "instance %d", i)
	}
	checkHammer(t, s, reports)
}

// TestChildInstance is one instance of TestInstancesInSeveralProcesses;
// it does nothing unless started by it.
func TestChildInstance(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		return
	}
	js, n, _ := strings.Cut(v, " ")
	var setup hammerSetup
	require.NoError(t, json.Unmarshal([]byte(js), &setup))
	instance, err := strconv.Atoi(n)
	require.NoError(t, err)
	s, err := pgstore.Open(t.Context(), pgtest.URL(t), pgstore.WithSchema(setup.Schema))
	require.NoError(t, err)
	defer s.Close()
	rep := hammer(t.Context(), s, instance, setup)
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	fmt.Printf("REPORT %s\n", b)
}

// TestNoDeadlockUnderLoad runs 64 goroutines over four pools, with users
// that share devices and networks, evaluating, failing and erasing at
// once: deadlocks between writers may happen and are retried, so every
// call succeeds.
func TestNoDeadlockUnderLoad(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t)
	ctx := t.Context()
	engines := make([]*ato.Engine, 4)
	for i := range engines {
		s, err := pgstore.Open(ctx, url, pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		engines[i], err = ato.New(s, ato.WithClock(hammerClock), ato.WithSecret(testSecret))
		require.NoError(t, err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	devices := make([]string, 8)
	for i := range devices {
		devices[i] = fakehash.Random(r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64*20)
	for g := range 64 {
		wg.Go(func() {
			e := engines[g%len(engines)]
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 20 {
				user := fmt.Sprintf("user%d", r.IntN(16))
				req := ato.Request{User: user, Fingerprint: devices[r.IntN(len(devices))], IP: fmt.Sprintf("10.0.0.%d", r.IntN(4))}
				var err error
				switch n := r.IntN(20); {
				case n < 12:
					_, err = e.Evaluate(ctx, req)
				case n < 19:
					err = e.RecordFailure(ctx, req)
				default:
					err = e.DeleteUser(ctx, user)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// The index is consistent: every entry names a device that has the key.
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var orphans int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema}.Sanitize()+`.device_keys dk
		WHERE NOT EXISTS (SELECT 1 FROM `+pgx.Identifier{schema}.Sanitize()+`.devices d WHERE d.id = dk.device_id AND dk.lookup_key = ANY (d.keys))`).Scan(&orphans))
	assert.Zero(t, orphans, "index entries without their device")
}

// TestStuffingFromOneNetwork: hundreds of users fail at once from one
// network, over four pools, as a stuffing campaign does: every failure is
// recorded (writers of one network's list take turns, so none deadlocks
// or trims another's row), and the network counts its users up to the
// cap.
func TestStuffingFromOneNetwork(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t)
	ctx := t.Context()
	engines := make([]*ato.Engine, 4)
	var first *pgstore.Store
	for i := range engines {
		s, err := pgstore.Open(ctx, url, pgstore.WithSchema(schema))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		if first == nil {
			first = s
		}
		engines[i], err = ato.New(s, ato.WithClock(hammerClock), ato.WithSecret(testSecret))
		require.NoError(t, err)
	}
	const goroutines, each = 32, 8
	errs := make(chan error, goroutines*each)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := engines[g%len(engines)].RecordFailure(ctx, ato.Request{User: fmt.Sprintf("u%d-%d", g, i), IP: "198.51.100.66"}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := first.Load(ctx, storage.LoadRequest{User: "anyone", Failures: &storage.FailureQuery{
		UserSince: hammerClock().Add(-time.Hour), MaxUser: 1, Network: "198.51.100.66",
		NetworkSince: hammerClock().Add(-time.Hour), MaxNetworkUsers: 1000}})
	require.NoError(t, err)
	assert.Equal(t, 64, st.Failures.NetworkUsers, "the network's list holds its cap of users")
}
