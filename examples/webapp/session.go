package main

import (
	"container/list"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names.
const (
	sessionCookie = "session"
	csrfCookie    = "csrf"
)

// maxForm bounds a form body: two fingerprints of 4 KiB and a few fields.
const maxForm = 64 << 10

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfToken returns the browser's CSRF token, setting the cookie when the
// browser has none (Secure when secure). Every form carries it as the
// hidden field csrf. Call it once per response.
func csrfToken(w http.ResponseWriter, r *http.Request, secure bool) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: tok, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure,
	})
	return tok
}

// crossOrigin refuses cross-site browser requests by Sec-Fetch-Site and
// Origin (net/http's CrossOriginProtection).
var crossOrigin = http.NewCrossOriginProtection()

// post wraps a POST handler: it refuses cross-site requests, bounds the
// body, and compares the form's csrf field with the csrf cookie in
// constant time (double submit).
func (s *server) post(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := crossOrigin.Check(r); err != nil {
			s.fail(w, r, http.StatusForbidden, "Refused: this form was sent from another site.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		c, err := r.Cookie(csrfCookie)
		form := r.PostForm.Get("csrf")
		if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
			s.fail(w, r, http.StatusForbidden, "Refused: the form's security token is missing or stale. Reload the page and try again.")
			return
		}
		h(w, r)
	}
}

// session is what the server keeps about a browser. A session is either
// logged in, or holds a login waiting for its challenge.
type session struct {
	User     string
	LoggedIn bool
	// ChallengeID is the challenge this browser's login waits for.
	ChallengeID string
	// FromChallenge is the challenge whose completion logged this session
	// in, if any.
	FromChallenge string
	// Outcome is the evaluation of the login that made the session. Its
	// Fingerprint is kept only until the page that saves it in the browser
	// is shown (see [sessions.dropFingerprint]).
	Outcome outcome
	expires time.Time
}

// maxSessions bounds the sessions kept in memory: past it, a new one
// evicts the oldest.
const maxSessions = 10_000

// sessions keeps sessions in memory, by a random id in the session cookie.
// Every session lives for the same ttl, so the order of creation is also the
// order of expiry: expired sessions are found at the front of the list, and
// pruning stops at the first live one.
type sessions struct {
	mu     sync.Mutex
	m      map[string]*list.Element // of *sessionEntry
	order  *list.List               // oldest first
	now    func() time.Time
	ttl    time.Duration
	max    int
	secure func(*http.Request) bool // whether the cookie is Secure
}

type sessionEntry struct {
	id   string
	sess session
}

// newSessions returns an empty store of at most max sessions that last
// ttl; secure says whether a request's cookie is to be Secure.
func newSessions(now func() time.Time, ttl time.Duration, max int, secure func(*http.Request) bool) *sessions {
	return &sessions{m: map[string]*list.Element{}, order: list.New(), now: now, ttl: ttl, max: max, secure: secure}
}

// remove deletes a session; the caller holds mu.
func (ss *sessions) remove(id string) {
	if e, ok := ss.m[id]; ok {
		ss.order.Remove(e)
		delete(ss.m, id)
	}
}

// prune drops the expired sessions at the front of the list and the oldest
// past max-1, to make room for one more; the caller holds mu. It looks at
// no live session but the first, so a login costs O(1) amortised.
func (ss *sessions) prune(now time.Time) {
	for e := ss.order.Front(); e != nil; e = ss.order.Front() {
		en := e.Value.(*sessionEntry)
		if now.Before(en.sess.expires) && ss.order.Len() < ss.max {
			return
		}
		ss.remove(en.id)
	}
}

// len returns how many sessions are kept.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.order.Len()
}

// get returns the request's session.
func (ss *sessions) get(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	e, ok := ss.m[c.Value]
	if !ok {
		return session{}, false
	}
	sess := e.Value.(*sessionEntry).sess
	if !ss.now().Before(sess.expires) {
		ss.remove(c.Value)
		return session{}, false
	}
	return sess, true
}

// dropFingerprint forgets the full hash of the request's session once the
// page that saves it has been shown; the summary of it stays.
func (ss *sessions) dropFingerprint(r *http.Request) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if e, ok := ss.m[c.Value]; ok {
		e.Value.(*sessionEntry).sess.Outcome.Fingerprint = ""
	}
}

// start replaces the request's session, if any, with a new one under a new
// id: a login never reuses an id the browser had before (session
// fixation).
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, sess session) {
	id := randomToken()
	now := ss.now()
	sess.expires = now.Add(ss.ttl)
	ss.mu.Lock()
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.remove(c.Value)
	}
	ss.prune(now)
	ss.m[id] = ss.order.PushBack(&sessionEntry{id: id, sess: sess})
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: int(ss.ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: ss.secure(r),
	})
}

// end deletes the request's session and its cookie.
func (ss *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		ss.remove(c.Value)
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: ss.secure(r),
	})
}
