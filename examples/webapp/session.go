package main

import (
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
// browser has none. Every form carries it as the hidden field csrf. Call it
// once per response.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: tok, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
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
	// Outcome is the evaluation of the login that made the session.
	Outcome outcome
	expires time.Time
}

// sessions keeps sessions in memory, by a random id in the session cookie.
type sessions struct {
	mu  sync.Mutex
	m   map[string]session
	now func() time.Time
	ttl time.Duration
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{m: map[string]session{}, now: now, ttl: ttl}
}

// get returns the request's session.
func (ss *sessions) get(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess, ok := ss.m[c.Value]
	if !ok || !ss.now().Before(sess.expires) {
		delete(ss.m, c.Value)
		return session{}, false
	}
	return sess, true
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
		delete(ss.m, c.Value)
	}
	for k, v := range ss.m { // drop expired sessions; a demo has few
		if !now.Before(v.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[id] = sess
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", MaxAge: int(ss.ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
}

// end deletes the request's session and its cookie.
func (ss *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.m, c.Value)
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
}
