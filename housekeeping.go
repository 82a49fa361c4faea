package ato

import (
	"context"
	"fmt"
	"time"

	"github.com/atoguard/ato/fingerprint"
	"github.com/atoguard/ato/storage"
)

// RecordFailure records a failed password attempt. It feeds the
// brute-force, credential-stuffing and stuffing-campaign signals; whether
// the attempt's device
// and network were known for the user is decided when it is recorded (by
// the fingerprint's exact match with a hash the user saw from a known
// device), so that an owner mistyping on their own device is told apart
// from an attacker. It does the same work whether or not the user has a
// history, so its cost tells nothing about the account.
//
// Record a failed login for a user name that is not an account too, with
// [Request].UnknownUser set: such failures are counted apart, per network
// and from anywhere, as the strongest tell of credential stuffing (see
// [signals.CredentialStuffingConfig] and [signals.StuffingCampaignConfig]).
//
// Only the user must be valid. An invalid optional field (a fingerprint
// too long, a last fingerprint without a fingerprint, an address that does
// not parse, …) is dropped and the failure recorded without it: the fields
// come from the client, and an attacker must not be able to keep failures
// from being counted by sending a bad one.
//
// Errors: [ErrInvalidRequest] for a missing or invalid user; store
// failures.
func (e *Engine) RecordFailure(ctx context.Context, r Request) error {
	a, err := normalise(r, e.cfg.now, e.cfg.replay, true)
	if err != nil {
		return err
	}
	f := storage.Failure{User: a.user, Time: a.time, Network: a.network, UnknownUser: r.UnknownUser}
	if a.fingerprint != "" {
		f.DeviceKey = fingerprint.Key(a.fingerprint)
	}
	if err := e.store.AddFailure(ctx, f, e.failureLimits(a.time)); err != nil {
		return fmt.Errorf("ato: record failure: %w", err)
	}
	return nil
}

// failureLimits bound the failures kept: for as long as the longest window
// they are counted in, as many as the counts need.
func (e *Engine) failureLimits(at time.Time) storage.FailureLimits {
	return storage.FailureLimits{
		KnownSince:       at.Add(-e.cfg.knownWindow),
		Keep:             e.cfg.failureKeep(),
		MaxUser:          e.cfg.maxUserFailures(),
		MaxNetworkUsers:  e.cfg.maxNetworkUsers(),
		MaxCampaignUsers: e.cfg.maxCampaignUsers(),
		// A network past the credential-stuffing count of names that are
		// not accounts is counted on its own: the campaign list is for
		// campaigns spread over many networks.
		CampaignPerNetwork: e.cfg.detectors.CredentialStuffing.UnknownUsers,
	}
}

// DeleteUser erases every record of the user. Deleting a user the engine
// never saw is not an error. Errors: store failures.
func (e *Engine) DeleteUser(ctx context.Context, user string) error {
	if err := e.store.DeleteUser(ctx, user); err != nil {
		return fmt.Errorf("ato: delete user: %w", err)
	}
	return nil
}

// purgeBatch is how many records one write of Purge drops at most.
const purgeBatch = 1000

// Purge drops history and challenges older than the history age (see
// [WithHistory]) and failures older than the longest window they are
// counted in, in short writes of at most a thousand records, and returns
// how many records were dropped. Run it from time to time; it stops when
// ctx is done.
//
// Errors: ctx's error when it is done; store failures. The count is of the
// records dropped before either.
func (e *Engine) Purge(ctx context.Context) (int64, error) {
	now := e.cfg.now()
	r := storage.PurgeRequest{
		EventsBefore:     now.Add(-e.cfg.historyAge),
		FailuresBefore:   now.Add(-e.cfg.failureKeep()),
		ChallengesBefore: now.Add(-e.cfg.historyAge),
		Batch:            purgeBatch,
	}
	var total int64
	for {
		n, err := e.store.Purge(ctx, r)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("ato: purge: %w", err)
		}
		if n < r.Batch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ato: purge: %w", err)
		}
	}
}
