package atocli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a progress bar on a terminal for a run that lasts: it
// stays quiet for its first seconds, then redraws one line at most a few
// times a second, and clears it when done.
type progress struct {
	w       io.Writer
	now     func() time.Time
	total   int64 // bytes to read; 0 when unknown
	start   time.Time
	last    time.Time
	drawn   bool
	quietly time.Duration
}

// progressAfter is how long a run goes before a bar appears.
const progressAfter = 2 * time.Second

func newProgress(w io.Writer, now func() time.Time, total int64) *progress {
	t := now()
	return &progress{w: w, now: now, total: total, start: t, last: t, quietly: progressAfter}
}

// update redraws the bar if it is time: events done, read bytes of total.
func (p *progress) update(events, read int64) {
	if p == nil {
		return
	}
	t := p.now()
	if t.Sub(p.start) < p.quietly || t.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = t
	elapsed := t.Sub(p.start).Seconds()
	rate := float64(events) / elapsed
	line := fmt.Sprintf("%s events, %s/s", count(events), count(int64(rate)))
	if p.total > 0 {
		frac := min(float64(read)/float64(p.total), 1)
		const width = 30
		full := int(frac * width)
		bar := strings.Repeat("=", full) + strings.Repeat(" ", width-full)
		eta := ""
		if frac > 0.01 {
			eta = fmt.Sprintf(", %s left", (time.Duration(elapsed*(1-frac)/frac) * time.Second).Round(time.Second))
		}
		line = fmt.Sprintf("[%s] %3.0f%% %s%s", bar, 100*frac, line, eta)
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.drawn = true
}

// done clears the bar.
func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
