package memstore

import (
	"time"

	"github.com/atoguard/ato/storage"
)

// history is a user's events, oldest first, in a ring: a login appends one
// event and, the history being full, drops the oldest, without copying the
// others or allocating.
type history struct {
	buf  []storage.Event
	head int // index in buf of the oldest event
	n    int
	// failed counts the events without success, so that a history of
	// successes is trimmed without looking for one.
	failed int
}

func (h *history) len() int { return h.n }

// at returns the i-th oldest event.
func (h *history) at(i int) *storage.Event { return &h.buf[(h.head+i)%len(h.buf)] }

// add inserts e in time order (after the events of its time) and trims
// the history as storage.TrimHistory says.
func (h *history) add(e storage.Event, lim storage.HistoryLimits) {
	if h.n == len(h.buf) {
		// Doubling up to the bound, which a full history needs (it is
		// trimmed after the add): a user of one login holds one event's
		// room, not fifty.
		h.grow(max(min(2*len(h.buf), lim.Max+1), len(h.buf)+1))
	}
	i := h.n
	for i > 0 && h.at(i-1).Time.After(e.Time) {
		i--
	}
	for j := h.n; j > i; j-- { // rare: an event older than the newest
		*h.at(j) = *h.at(j - 1)
	}
	h.n++
	*h.at(i) = e
	if !e.Success {
		h.failed++
	}
	h.dropBefore(lim.Since, h.n)
	for h.n > lim.Max {
		j := 0
		if h.failed > 0 {
			for h.at(j).Success { // the oldest without success
				j++
			}
		}
		h.remove(j)
	}
}

// grow moves the events to a new array of the given size, oldest first.
func (h *history) grow(size int) {
	buf := make([]storage.Event, size)
	for i := range h.n {
		buf[i] = *h.at(i)
	}
	h.buf, h.head = buf, 0
}

// remove drops the i-th oldest event.
func (h *history) remove(i int) {
	if !h.at(i).Success {
		h.failed--
	}
	for j := i; j > 0; j-- { // rare: a failed event after successes
		*h.at(j) = *h.at(j - 1)
	}
	*h.at(0) = storage.Event{}
	h.head = (h.head + 1) % len(h.buf)
	h.n--
}

// dropBefore drops, of the oldest events, those before the time, up to
// limit of them, and returns how many it dropped.
func (h *history) dropBefore(t time.Time, limit int) int {
	k := 0
	for k < limit && h.n > 0 && h.at(0).Time.Before(t) {
		h.remove(0)
		k++
	}
	return k
}
