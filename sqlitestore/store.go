package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/atoguard/ato/internal/profilecodec"
	"github.com/atoguard/ato/profile"
	"github.com/atoguard/ato/storage"
)

// qLoadState reads, in one statement, the profile of user ?1 (a NULL
// version when there is none), the failures of failureCounts and the
// challenges of the user created since ?7, up to ?8.
var qLoadState = prepared(`SELECT p.version, p.data, ` + failureCounts + `,
	(SELECT count(*) FROM (SELECT 1 FROM challenges WHERE user_id = ?1 AND created_at >= ?7 LIMIT ?8))
	FROM (SELECT 1) LEFT JOIN profiles p ON p.user_id = ?1`)

// Load implements [storage.Store]: the profile and the counts; then, as
// [storage.NeedsHashes] decides, either the one device the fingerprint is
// the newest hash of, or the user's hashes and the ranked candidates. All
// of it in one read transaction.
func (s *Store) Load(ctx context.Context, r storage.LoadRequest) (storage.State, error) {
	if err := r.Validate(); err != nil {
		return storage.State{}, err
	}
	var st storage.State
	err := s.readTx(ctx, func(t *tx) error {
		var err error
		if r.Failures == nil && r.Challenges == nil {
			st.Profile, err = readProfile(t, r.User)
		} else {
			err = loadState(t, &r, &st)
		}
		if err != nil {
			return err
		}
		if storage.NeedsHashes(&st.Profile, r.FingerprintKey) {
			if st.Hashes, err = readHashes(t, r.User); err != nil {
				return err
			}
			if r.DeviceKeys != nil {
				if keys := r.DeviceKeys(); len(keys) > 0 {
					if st.Candidates, err = candidates(t, keys, r.MaxCandidates); err != nil {
						return err
					}
				}
			}
		} else if d, ok := st.Profile.DeviceWithKey(r.FingerprintKey); ok {
			dev, found, err := readDevice(t, d.ID)
			if err != nil {
				return err
			}
			if found {
				st.Candidates = []storage.Device{dev}
			}
		}
		return nil
	})
	if err != nil {
		return storage.State{}, fmt.Errorf("sqlitestore: load %q: %w", r.User, err)
	}
	return st, nil
}

// loadState reads the profile and the counts r asks for, with qLoadState.
func loadState(t *tx, r *storage.LoadRequest, st *storage.State) error {
	var fq storage.FailureQuery
	if r.Failures != nil {
		fq = *r.Failures
	}
	var cq storage.ChallengeQuery
	if r.Challenges != nil {
		cq = *r.Challenges
	}
	var version sql.NullInt64
	var data []byte
	err := t.row(qLoadState, r.User, ms(fq.UserSince), fq.MaxUser, fq.Network, ms(fq.NetworkSince), fq.MaxNetworkUsers,
		ms(cq.Since), cq.Max, ms(fq.UnknownSince), fq.MaxNetworkUnknown, storage.CampaignKey, ms(fq.CampaignSince), fq.MaxCampaignUsers).Scan(
		&version, &data, &st.Failures.User, &st.Failures.UserUnknown, &st.Failures.NetworkUsers,
		&st.Failures.NetworkUnknown, &st.Failures.CampaignUsers, &st.Challenges)
	if err != nil {
		return fmt.Errorf("read state of %q: %w", r.User, err)
	}
	st.Profile = profile.Profile{User: r.User}
	if version.Valid {
		st.Profile.Version = version.Int64
		if err := profilecodec.Decode(data, &st.Profile); err != nil {
			return fmt.Errorf("read profile of %q: %w", r.User, err)
		}
	}
	return nil
}

// Commit implements [storage.Store]: one write transaction, rolled back
// whole when any part fails.
func (s *Store) Commit(ctx context.Context, c storage.Commit) error {
	if err := c.Validate(); err != nil {
		return err
	}
	err := s.writeTx(ctx, func(t *tx) error {
		if tr := c.Transition; tr != nil {
			if err := transition(t, c.User, tr); err != nil {
				return err
			}
		}
		if l := c.ChallengeLimit; l != nil {
			var n int
			if err := t.row(qCountChallenges, c.User, ms(l.Since), l.Max).Scan(&n); err != nil {
				return err
			}
			if n >= l.Max {
				return fmt.Errorf("user %q has %d challenges since %v: %w", c.User, n, l.Since, storage.ErrLimited)
			}
		}
		if w := c.Profile; w != nil {
			gone, err := writeProfile(t, c.User, w)
			if err != nil {
				return err
			}
			for _, id := range gone {
				if err := writeHashes(t, c.User, &storage.DeviceHashes{DeviceID: id}); err != nil {
					return err
				}
				if err := leaveDevice(t, id, c.User, false); err != nil {
					return err
				}
			}
		}
		if h := c.Hashes; h != nil {
			if err := writeHashes(t, c.User, h); err != nil {
				return err
			}
		}
		if w := c.Device; w != nil {
			if err := writeDevice(t, c.User, w); err != nil {
				return err
			}
		}
		if e := c.Event; e != nil {
			if err := appendEvent(t, c.User, e, c.History); err != nil {
				return err
			}
		}
		if ch := c.Challenge; ch != nil {
			x := *ch
			x.User = c.User
			if err := insertChallenge(t, &x); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: commit for %q: %w", c.User, err)
	}
	return nil
}

// AddFailure implements [storage.Store]: the failure is classified
// against the profile read in the same write transaction.
func (s *Store) AddFailure(ctx context.Context, f storage.Failure, lim storage.FailureLimits) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if err := lim.Validate(); err != nil {
		return err
	}
	err := s.writeTx(ctx, func(t *tx) error {
		p, err := readProfile(t, f.User)
		if err != nil {
			return err
		}
		storage.ClassifyFailure(&p, &f, lim.KnownSince)
		return addFailure(t, &f, &lim)
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	return nil
}

// Challenge implements [storage.Store].
func (s *Store) Challenge(ctx context.Context, id string) (storage.Challenge, error) {
	var c storage.Challenge
	err := s.readTx(ctx, func(t *tx) (err error) {
		c, err = scanChallenge(t.row(qChallenge, id), id)
		return err
	})
	if err != nil {
		return storage.Challenge{}, err
	}
	return c, nil
}

// UpdateChallenge implements [storage.Store]: the read, the update and the
// write are one write transaction, so update must not call the store.
func (s *Store) UpdateChallenge(ctx context.Context, id string, update func(*storage.Challenge) error) (storage.Challenge, error) {
	var (
		out       storage.Challenge
		updateErr error
	)
	err := s.writeTx(ctx, func(t *tx) error {
		c, err := scanChallenge(t.row(qChallenge, id), id)
		if err != nil {
			return err
		}
		user := c.User
		if updateErr = update(&c); updateErr != nil {
			return updateErr
		}
		c.ID, c.User = id, user // neither can change
		args, err := challengeArgs(&c)
		if err != nil {
			return err
		}
		if _, err := t.exec(qUpdateChallenge, args...); err != nil {
			return err
		}
		out, err = scanChallenge(t.row(qChallenge, id), id)
		return err
	})
	switch {
	case updateErr != nil:
		return storage.Challenge{}, updateErr
	case err != nil:
		return storage.Challenge{}, err
	}
	return out, nil
}

// Events implements [storage.Store].
func (s *Store) Events(ctx context.Context, user string, since time.Time, limit int) ([]storage.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlitestore: events: %w: limit %d", storage.ErrInvalid, limit)
	}
	from := int64(math.MinInt64)
	if !since.IsZero() {
		from = ms(since)
	}
	var evs []storage.Event
	err := s.readTx(ctx, func(t *tx) (err error) {
		evs, err = readEvents(t, user, from, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: events of %q: %w", user, err)
	}
	return evs, nil
}

// DeleteUser implements [storage.Store], in one write transaction.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	err := s.writeTx(ctx, func(t *tx) error {
		p, err := readProfile(t, user)
		if err != nil {
			return err
		}
		for _, d := range p.Devices {
			if err := leaveDevice(t, d.ID, user, true); err != nil {
				return err
			}
		}
		for _, q := range []statement{qDeleteProfile, qDeleteAllHashes, qDeleteEvents, qDeleteFailures,
			qDeleteNetworkFailures, qDeleteChallenges, qDeleteFactors} {
			if _, err := t.exec(q, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete user %q: %w", user, err)
	}
	return nil
}

// Purge implements [storage.Store]: one write transaction of at most
// r.Batch deletions, through the time indexes.
func (s *Store) Purge(ctx context.Context, r storage.PurgeRequest) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	n := 0
	err := s.writeTx(ctx, func(t *tx) error {
		for _, p := range []struct {
			q      statement
			before time.Time
		}{
			{qPurgeEvents, r.EventsBefore},
			{qExpireFailures, r.FailuresBefore},
			{qExpireNetworks, r.FailuresBefore},
			{qPurgeChallenges, r.ChallengesBefore},
		} {
			if n >= r.Batch || p.before.IsZero() {
				continue
			}
			res, err := t.exec(p.q, ms(p.before), r.Batch-n)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: purge: %w", err)
	}
	return n, nil
}
