package signals

import (
	"strconv"
	"strings"
	"time"
)

// place names a location for a person: "Amsterdam, NL".
func place(city, country string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	case country != "":
		return country
	case city != "":
		return city
	}
	return "an unknown place"
}

func formatFloat(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

// formatDuration writes d for a person, to the minute (to the second below
// a minute): "15 minutes", "1 hour 30 minutes", "30 days".
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		d = d.Round(time.Second)
	} else {
		d = d.Round(time.Minute)
	}
	if d <= 0 {
		return "0 seconds"
	}
	var parts []string
	for _, u := range [...]struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if n := int64(d / u.d); n > 0 {
			d -= time.Duration(n) * u.d
			s := strconv.FormatInt(n, 10) + " " + u.name
			if n > 1 {
				s += "s"
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// evidenceDuration writes a duration kept in evidence, in the form of
// time.Duration.String, for a person; text that is not one stays as it is.
func evidenceDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return formatDuration(d)
}

// with is phrase followed by value, when there is one: "new IP
// 203.0.113.9".
func with(phrase, value string) string {
	if value != "" {
		return phrase + " " + value
	}
	return phrase
}
