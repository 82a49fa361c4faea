package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
	"github.com/jackc/pgx/v5"
)

// qLoad reads everything an evaluation needs in one statement, so in one
// round trip and one snapshot: see the function ato_load_v1 in the schema.
// Whether to search candidates is storage.NeedsHashes, decided there from
// the profile's newest_keys.
var qLoad = stmt(`SELECT * FROM {s}.ato_load_v1($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`)

// Load implements [storage.Store], in one statement: see qLoad. It calls
// r.DeviceKeys whenever the attempt has a fingerprint, before it knows
// whether the keys will be searched.
func (s *Store) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	if err := r.Validate(); err != nil {
		return storage.State{}, err
	}
	if err := s.enter(); err != nil {
		return storage.State{}, err
	}
	defer s.leave()
	keys := []string{}
	var key int64
	if r.FingerprintKey != "" {
		key = digest(r.FingerprintKey)
		if r.DeviceKeys != nil {
			keys = r.DeviceKeys()
		}
	}
	var (
		userSince, networkSince, challengesSince *time.Time
		unknownSince, campaignSince              *time.Time
		maxUser, maxNetwork, maxChallenges       int
		maxUnknown, maxCampaign                  int
		network                                  string
	)
	if q := r.Failures; q != nil {
		us, ns := at(q.UserSince), at(q.NetworkSince)
		userSince, networkSince, maxUser, maxNetwork, network = &us, &ns, q.MaxUser, q.MaxNetworkUsers, q.Network
		if q.MaxNetworkUnknown > 0 {
			un := at(q.UnknownSince)
			unknownSince, maxUnknown = &un, q.MaxNetworkUnknown
		}
		if q.MaxCampaignUsers > 0 {
			cs := at(q.CampaignSince)
			campaignSince, maxCampaign = &cs, q.MaxCampaignUsers
		}
	}
	if q := r.Challenges; q != nil {
		cs := at(q.Since)
		challengesSince, maxChallenges = &cs, q.Max
	}
	args := []any{r.User, key, keys, max(r.MaxCandidates, 1), int64(storage.KeyWeight), storage.MaxKeyDevices,
		userSince, maxUser, network, networkSince, maxNetwork, challengesSince, maxChallenges,
		unknownSince, maxUnknown, storage.CampaignKey, campaignSince, maxCampaign}
	st, err := s.load(ctx, r.User, args)
	if err == nil && key != 0 && storage.NeedsHashes(&st.Profile, r.FingerprintKey) {
		// The statement searched unless the digest of the newest key of a
		// device of the profile is the fingerprint's, which is then
		// another key with the same digest: search with a digest none of
		// the profile's devices has.
		newest := newestDigests(&st.Profile)
		if slices.Contains(newest, key) {
			for slices.Contains(newest, key) || key == 0 {
				key++
			}
			args[1] = key
			st, err = s.load(ctx, r.User, args)
		}
	}
	if err != nil {
		return storage.State{}, fmt.Errorf("pgstore: load %q: %w", r.User, err)
	}
	if st.Hashes == nil && storage.NeedsHashes(&st.Profile, r.FingerprintKey) {
		st.Hashes = map[string][]string{}
	}
	return st, nil
}

// newestDigests are the digests of the newest keys of the profile's
// devices, as the profile's facts hold them.
func newestDigests(p *profile.Profile) []int64 {
	out := make([]int64, 0, len(p.Devices))
	for i := range p.Devices {
		if d := &p.Devices[i]; len(d.Keys) > 0 {
			out = append(out, digest(d.Keys[0]))
		}
	}
	return out
}

// load runs qLoad with the arguments and puts its rows together.
func (s *Store) load(ctx context.Context, user string, args []any) (storage.State, error) {
	rows, err := s.pool.Query(ctx, s.sql[qLoad], args...)
	if err != nil {
		return storage.State{}, err
	}
	defer rows.Close()
	st := storage.State{Profile: profile.Profile{User: user}}
	var ranks []int64
	for rows.Next() {
		var (
			part       int32
			version    *int64
			data       []byte
			n          [6]int64
			d          storage.Device
			ids        []string
			seen       []time.Time
			rank       int64
			firstSeen  *time.Time
			lastSeen   *time.Time
			deviceID   *string
			hashes     []string
			deviceKeys []string
		)
		if err := rows.Scan(&part, &version, &data, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5],
			&deviceID, &hashes, &deviceKeys, &firstSeen, &lastSeen, &ids, &seen, &rank); err != nil {
			return storage.State{}, err
		}
		switch part {
		case 0:
			st.Failures = storage.FailureCounts{User: int(n[0]), UserUnknown: int(n[1]), NetworkUsers: int(n[2]),
				NetworkUnknown: int(n[4]), CampaignUsers: int(n[5])}
			st.Challenges = int(n[3])
			if version != nil {
				st.Profile.Version = *version
				if err := decodeProfile(data, &st.Profile); err != nil {
					return storage.State{}, err
				}
			}
		case 1:
			d.ID, d.Hashes, d.Keys = *deviceID, hashes, deviceKeys
			if firstSeen != nil {
				d.FirstSeen = *firstSeen
			}
			if lastSeen != nil {
				d.LastSeen = *lastSeen
			}
			finishDevice(&d, ids, seen)
			st.Candidates = append(st.Candidates, d)
			ranks = append(ranks, rank)
		case 2:
			if st.Hashes == nil {
				st.Hashes = map[string][]string{}
			}
			st.Hashes[*deviceID] = emptyNil(hashes)
		}
	}
	if err := rows.Err(); err != nil {
		return storage.State{}, err
	}
	if len(st.Candidates) > 1 {
		byRank := make([]int, len(st.Candidates))
		for i := range byRank {
			byRank[i] = i
		}
		slices.SortFunc(byRank, func(a, b int) int { return cmp.Compare(ranks[a], ranks[b]) })
		sorted := make([]storage.Device, len(byRank))
		for i, j := range byRank {
			sorted[i] = st.Candidates[j]
		}
		st.Candidates = sorted
	}
	return st, nil
}

// Commit implements [storage.Store]: one batch, one implicit transaction.
// If the profile was written since the engine loaded it, the batch fails
// whole; then, in a transaction holding the lock of the user's writes, the
// stored profile is read, the change applied to it again
// ([storage.ResolveProfile]), and the batch sent again.
func (s *Store) Commit(ctx context.Context, c storage.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := run(ctx, func() error {
		// A batch is sent once (pgx keeps what it learnt of its
		// statements in it): each attempt makes its own.
		var b pgx.Batch
		if err := s.commitBatch(&b, &c, c.Profile); err != nil {
			return err
		}
		err := mapError(s.pool.SendBatch(ctx, &b).Close())
		if !errors.Is(err, errStale) {
			return err
		}
		// Written meanwhile: under the lock of the user's writes, read the
		// stored profile, apply the change to it and write the rest.
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, s.sql[qLockUser], c.User, s.lockSeed); err != nil {
				return err
			}
			stored, err := s.readProfile(ctx, tx, c.User)
			if err != nil {
				return err
			}
			next, gone, err := storage.ResolveProfile(stored, *c.Profile)
			if err != nil {
				return err
			}
			w := &storage.ProfileWrite{Base: stored.Version, New: next, Change: c.Profile.Change, Gone: gone}
			var b pgx.Batch
			if err := s.commitBatch(&b, &c, w); err != nil {
				return err
			}
			return mapError(tx.SendBatch(ctx, &b).Close())
		})
	})
	if err != nil {
		return fmt.Errorf("pgstore: commit for %q: %w", c.User, err)
	}
	return nil
}

// commitBatch queues the statements of a commit, with w as its profile
// write: the lock of the user's writes; the checks (the transition, the
// challenge limit), whose failures fail the batch; then the writes.
func (s *Store) commitBatch(b *pgx.Batch, c *storage.Commit, w *storage.ProfileWrite) error {
	s.lock(b, c.User)
	if tr := c.Transition; tr != nil {
		s.queueTransition(b, c.User, tr)
	}
	if l := c.ChallengeLimit; l != nil {
		s.queue(b, qChallengeLimit, c.User, at(l.Since), l.Max)
	}
	if w != nil {
		s.queueProfile(b, c.User, w.Base, &w.New)
		if len(w.Gone) > 0 {
			gone := slices.Sorted(slices.Values(w.Gone))
			s.queue(b, qDeleteHashes, c.User, gone)
			s.queue(b, qLeaveDevices, gone, c.User)
		}
	}
	if h := c.Hashes; h != nil {
		s.queueHashes(b, c.User, h)
	}
	if d := c.Device; d != nil {
		s.queueDevice(b, c.User, d)
	}
	if e := c.Event; e != nil {
		s.queueEvent(b, c.User, e, c.History)
	}
	if ch := c.Challenge; ch != nil {
		x := *ch
		x.User = c.User
		if err := s.queueChallenge(b, &x); err != nil {
			return err
		}
	}
	return nil
}

// AddFailure implements [storage.Store]: one batch, one implicit
// transaction, which classifies the failure in SQL against the profile it
// reads; so its cost is the same whether or not the user has a history.
func (s *Store) AddFailure(ctx context.Context, f storage.Failure, lim storage.FailureLimits) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := lim.Validate(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	// A batch is sent once (pgx keeps what it learnt of its statements in
	// it): each attempt makes its own.
	err := run(ctx, func() error {
		var b pgx.Batch
		s.lock(&b, f.User)
		s.queueFailure(&b, &f, &lim)
		return s.pool.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: add failure of %q: %w", f.User, err)
	}
	return nil
}

// Challenge implements [storage.Store].
func (s *Store) Challenge(ctx context.Context, id string) (storage.Challenge, error) {
	if err := s.enter(); err != nil {
		return storage.Challenge{}, err
	}
	defer s.leave()
	c, err := scanChallenge(s.pool.QueryRow(ctx, s.sql[qChallenge], id))
	if err != nil {
		return storage.Challenge{}, challengeError(id, err)
	}
	return c, nil
}

// challengeError names the challenge in err; a missing row is
// storage.ErrNotFound.
func challengeError(id string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		err = storage.ErrNotFound
	}
	return fmt.Errorf("pgstore: challenge %q: %w", id, err)
}

// UpdateChallenge implements [storage.Store]: in one transaction the
// challenge is read and locked, update runs, and what it made is written;
// so update must not call the store. A transaction that fails before
// update runs is tried again; once update has run, never (update is
// called once).
func (s *Store) UpdateChallenge(ctx context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	if err := s.enter(); err != nil {
		return storage.Challenge{}, err
	}
	defer s.leave()
	var out storage.Challenge
	var updateErr error
	updated := false
	err := run(ctx, func() error {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			c, err := scanChallenge(tx.QueryRow(ctx, s.sql[qLockChallenge], id))
			if err != nil {
				return err
			}
			user := c.User
			updated = true
			if updateErr = update(&c); updateErr != nil {
				return updateErr
			}
			c.ID, c.User = id, user // neither can change
			args, err := challengeArgs(&c)
			if err != nil {
				return err
			}
			out, err = scanChallenge(tx.QueryRow(ctx, s.sql[qUpdateChallenge], args...))
			return err
		})
		if err != nil && updated {
			return final{err} // update ran: never again
		}
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Challenge{}, updateErr
	case err != nil:
		return storage.Challenge{}, challengeError(id, err)
	}
	return out, nil
}

// Events implements [storage.Store].
func (s *Store) Events(ctx context.Context, user string, since time.Time, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pgstore: events: %w: limit %d", storage.ErrInvalid, limit)
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, s.sql[qEvents], user, at(since), limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: events of %q: %w", user, err)
	}
	defer rows.Close()
	var out []storage.Event
	for rows.Next() {
		var e storage.Event
		var asn int64
		if err := rows.Scan(scanEvent(&e, &asn)...); err != nil {
			return nil, fmt.Errorf("pgstore: events of %q: %w", user, err)
		}
		finishEvent(&e, asn)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: events of %q: %w", user, err)
	}
	return out, nil
}

// DeleteUser implements [storage.Store], in one batch: the devices of the
// user's profile are locked in the order of their ids; those the user is
// the only user of go with their index entries; the user leaves the
// others; then every record of the user goes.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	err := run(ctx, func() error {
		var b pgx.Batch
		s.lock(&b, user)
		for _, q := range []statement{qLockUserDevices, qUnindexLastUser, qDeleteLastUser, qLeaveProfileDevices,
			qDeleteProfile, qDeleteAllHashes, qDeleteEvents, qDeleteFailures, qDeleteNetworkFailures,
			qDeleteChallenges, qDeleteFactors} {
			s.queue(&b, q, user)
		}
		return s.pool.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: delete user %q: %w", user, err)
	}
	return nil
}

// Purge implements [storage.Store]: one transaction of at most r.Batch
// deletions, oldest first, through the time indexes.
func (s *Store) Purge(ctx context.Context, r storage.PurgeRequest) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	n := 0
	err := run(ctx, func() error {
		n = 0
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, p := range []struct {
				q      statement
				before time.Time
			}{
				{qPurgeEvents, r.EventsBefore},
				{qPurgeFailures, r.FailuresBefore},
				{qPurgeNetworks, r.FailuresBefore},
				{qPurgeChallenges, r.ChallengesBefore},
			} {
				if n >= r.Batch || p.before.IsZero() {
					continue
				}
				tag, err := tx.Exec(ctx, s.sql[p.q], at(p.before), r.Batch-n)
				if err != nil {
					return err
				}
				n += int(tag.RowsAffected())
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: purge: %w", err)
	}
	return n, nil
}
