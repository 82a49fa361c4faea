package signals

import (
	"context"
	"strings"
)

// NewCountryReason: the attempt's country is not among the user's recent
// successful logins.
const NewCountryReason Reason = "new_country"

// NewCountryScore is the score of a new_country finding.
const NewCountryScore = 0.3

// NewCountry reports new_country when the attempt's IP is located in a
// country the user has no successful login from since [Input.KnownSince].
// It is silent for a new user and when the IP is not located.
func NewCountry() Signal { return newCountry{} }

type newCountry struct{}

func (newCountry) Name() string { return string(NewCountryReason) }

func (newCountry) Reasons() []ReasonInfo {
	return []ReasonInfo{{NewCountryReason, NewCountryScore, "the country is not among the user's recent successful logins"}}
}

func (newCountry) Detect(_ context.Context, in *Input) ([]Finding, error) {
	c := in.Location.Country
	if !in.Located || c == "" || in.NewUser() {
		return nil, nil
	}
	if in.KnownCountry(c) {
		return nil, nil // without listing the others: most logins
	}
	// Silent when no successful login was located at all (geo data just
	// turned on, or only private addresses so far): nothing to compare.
	known := in.KnownCountries()
	if len(known) == 0 {
		return nil, nil
	}
	detail := "new country " + c + "; known: " + strings.Join(known, ", ")
	return []Finding{{
		Reason: NewCountryReason,
		Score:  NewCountryScore,
		Detail: detail,
		Evidence: map[string]string{
			"country":         c,
			"known_countries": strings.Join(known, ","),
		},
	}}, nil
}

func (newCountry) summary(f *Finding) string {
	s := with("new country", f.Evidence["country"])
	if k := f.Evidence["known_countries"]; k != "" {
		s += " (known: " + k + ")"
	}
	return s
}
