package ato

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/ato/challenge"
	"github.com/atoguard/ato/internal/devicetoken"
	"github.com/atoguard/ato/signals"
	"github.com/atoguard/ato/storage"
)

// challengeRateSpan is the window the user's challenges are counted in.
const challengeRateSpan = time.Hour

// secretName is where the generated key is kept in the store.
const secretName = "ato.hmac.v1"

// Engine evaluates attempts. Make one with [New] and share it.
type Engine struct {
	store      storage.Store
	cfg        config
	detectors  *signals.Detectors
	challenges *challenge.Keeper
	tokenKey   devicetoken.Key // the key of device tokens, from the secret
}

// New returns an engine over the store. Without [WithSecret], New reads the
// engine's key from the store, creating it on first use, so codes and device
// ids stay valid across restarts.
//
// Errors: an option's own error; two signals with one name; a plug-in's
// declared reasons that are invalid or taken; a policy that names unknown
// reasons; a history age shorter than a window something is counted in;
// a store that fails to give the key.
func New(store storage.Store, opts ...Option) (*Engine, error) {
	if store == nil {
		return nil, errors.New("ato: New: nil store")
	}
	cfg := defaults()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	cfg.detectors = cfg.detectors.WithDefaults()
	detectors, err := signals.NewDetectors(cfg.detectors, cfg.plugins...)
	if err != nil {
		return nil, fmt.Errorf("ato: New: %w", err)
	}
	if min := max(challengeRateSpan, cfg.challengeTTL, cfg.failureKeep()); cfg.historyAge < min {
		// Purge drops challenges and failures by the history age: a shorter
		// one would reset the hourly challenge limit and the failure counts.
		return nil, fmt.Errorf("ato: New: the history age %v is shorter than %v, the longest window a challenge or a failure is counted in", cfg.historyAge, min)
	}
	if v, ok := cfg.policy.(interface {
		Validate(known func(signals.Reason) bool) error
	}); ok {
		if err := v.Validate(detectors.Known); err != nil {
			return nil, fmt.Errorf("ato: New: policy: %w", err)
		}
	}
	if cfg.secret == nil {
		fresh := make([]byte, 32)
		rand.Read(fresh)
		key, err := store.Secret(context.Background(), secretName, fresh)
		if err != nil {
			return nil, fmt.Errorf("ato: New: load key: %w", err)
		}
		if len(key) < MinSecretLen {
			return nil, fmt.Errorf("ato: New: the key in the store is %d bytes; at least %d are needed", len(key), MinSecretLen)
		}
		cfg.secret = key
	}
	e := &Engine{store: store, cfg: cfg, detectors: detectors, tokenKey: devicetoken.NewKey(cfg.secret)}
	e.challenges = &challenge.Keeper{Store: store, Limits: cfg.limits, Key: cfg.secret, Sender: cfg.sender, History: e.historyLimits}
	return e, nil
}

// DeviceToken returns a device token for the user's device, for the
// application to keep in the browser's cookie where [Result].DeviceToken
// is not at hand: after [Engine.CompleteChallenge] taught the device of the
// challenged attempt (its id is the attempt's [Result].FingerprintID). A
// token for a device that is not the user's counts as none when it comes
// back. It costs no store access.
func (e *Engine) DeviceToken(user, deviceID string) string {
	return devicetoken.Issue(&e.tokenKey, user, deviceID, e.cfg.now())
}
