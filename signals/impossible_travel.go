package signals

import (
	"context"
	"fmt"
	"math"
)

// ImpossibleTravelReason: too far, too fast from the last successful
// login.
const ImpossibleTravelReason Reason = "impossible_travel"

// ImpossibleTravelScore is the score of an impossible_travel finding.
const ImpossibleTravelScore = 0.7

// Defaults of [ImpossibleTravelConfig].
const (
	DefaultTravelMinKm  = 200.0
	DefaultTravelMaxKmh = 1000.0
)

// UnknownAccuracyKm is the accuracy radius assumed for a place whose data
// gives none (DB-IP and ip-location-db carry no radius): a mobile carrier's
// address is often placed at a hub far from the person.
const UnknownAccuracyKm = 50.0

// CoarseAccuracyKm is the accuracy radius from which a location is too
// coarse for travel: a network located to a region or a country.
const CoarseAccuracyKm = 500.0

// ImpossibleTravelConfig configures [ImpossibleTravel].
type ImpossibleTravelConfig struct {
	// MinKm is the least distance, less both places' accuracy radii, that
	// can be impossible. Zero means [DefaultTravelMinKm].
	MinKm float64
	// MaxKmh is the highest speed that is possible. Zero means
	// [DefaultTravelMaxKmh].
	MaxKmh float64
}

func (c ImpossibleTravelConfig) withDefaults() ImpossibleTravelConfig {
	if c.MinKm == 0 {
		c.MinKm = DefaultTravelMinKm
	}
	if c.MaxKmh == 0 {
		c.MaxKmh = DefaultTravelMaxKmh
	}
	return c
}

func (c ImpossibleTravelConfig) validate() error {
	if !(c.MinKm >= 0) || !(c.MaxKmh >= 0) || math.IsInf(c.MinKm, 0) || math.IsInf(c.MaxKmh, 0) {
		return fmt.Errorf("signals: ImpossibleTravel: need a distance and a speed of 0 (the default) or more, got %v km and %v km/h", c.MinKm, c.MaxKmh)
	}
	return nil
}

// ImpossibleTravel reports impossible_travel when the user could not have
// gone from the place of their last successful login to the attempt's place
// in the time between: the distance, less both places' accuracy radii, is
// more than minKm, and covering it would take more than maxKmh. It never
// fires when either place has no coordinates, nor when the last login is
// not before the attempt (a replay out of order). A place without an
// accuracy radius counts [UnknownAccuracyKm]. Zero arguments mean the
// defaults, 200 km and 1000 km/h.
func ImpossibleTravel(minKm, maxKmh float64) Signal {
	if minKm <= 0 {
		minKm = 0
	}
	if maxKmh <= 0 {
		maxKmh = 0
	}
	c := ImpossibleTravelConfig{MinKm: minKm, MaxKmh: maxKmh}.withDefaults()
	return impossibleTravel{c.MinKm, c.MaxKmh}
}

type impossibleTravel struct{ minKm, maxKmh float64 }

func (impossibleTravel) Name() string { return string(ImpossibleTravelReason) }

func (impossibleTravel) Reasons() []ReasonInfo {
	return []ReasonInfo{{ImpossibleTravelReason, ImpossibleTravelScore, "too far, too fast from the last successful login"}}
}

func (s impossibleTravel) Detect(_ context.Context, in *Input) ([]Finding, error) {
	if !in.Located || !hasCoordinates(in.Location.Latitude, in.Location.Longitude) {
		return nil, nil
	}
	last, ok := in.LastSuccess()
	if !ok || !last.Located || !hasCoordinates(last.Latitude, last.Longitude) {
		return nil, nil
	}
	if last.Time.After(in.Now) {
		return nil, nil
	}
	// A place the user is known at is no jump, however far it geolocates
	// from the last login: a network they logged in from, or an autonomous
	// system they did (a mobile carrier exits far from its users, and moves
	// them between exits; a home ISP's addresses locate to its hubs).
	if in.Profile != nil && (in.Profile.KnownNetwork(in.Network, in.KnownSince) || in.Profile.KnownASN(in.Location.ASN, in.KnownSince)) {
		return nil, nil
	}
	// So is a location too coarse to measure a distance by: the data's
	// accuracy radius says so where it has one.
	if in.Location.AccuracyKm >= CoarseAccuracyKm || last.AccuracyKm >= CoarseAccuracyKm {
		return nil, nil
	}
	raw := DistanceKm(last.Latitude, last.Longitude, in.Location.Latitude, in.Location.Longitude)
	km := raw - accuracy(last.AccuracyKm) - accuracy(in.Location.AccuracyKm)
	if km <= s.minKm {
		return nil, nil
	}
	hours := in.Now.Sub(last.Time).Hours()
	speed := math.Inf(1)
	if hours > 0 {
		speed = km / hours
	}
	if speed <= s.maxKmh {
		return nil, nil
	}
	speedValue := "instant"
	if !math.IsInf(speed, 1) {
		speedValue = formatFloat(speed, 0)
	}
	from, to := place(last.City, last.Country), place(in.Location.City, in.Location.Country)
	speedText := "at once"
	if !math.IsInf(speed, 1) {
		speedText = formatFloat(speed, 0) + " km/h"
	}
	return []Finding{{
		Reason: ImpossibleTravelReason,
		Score:  ImpossibleTravelScore,
		Detail: "from " + from + " to " + to + ": " + formatFloat(km, 0) + " km (after accuracy) in " +
			formatDuration(in.Now.Sub(last.Time)) + ", " + speedText,
		Evidence: map[string]string{
			"from":        from,
			"to":          to,
			"from_ip":     last.IP,
			"to_ip":       in.IP.String(),
			"distance_km": formatFloat(km, 0),
			"raw_km":      formatFloat(raw, 0),
			"hours":       formatFloat(hours, 2),
			"speed_kmh":   speedValue,
		},
	}}, nil
}

func (impossibleTravel) summary(f *Finding) string {
	ev := f.Evidence
	if ev["from"] == "" || ev["to"] == "" {
		return ""
	}
	return "impossible travel from " + ev["from"] + " to " + ev["to"] + " (" + ev["distance_km"] + " km in " + ev["hours"] + " h)"
}

func accuracy(km float64) float64 {
	if km <= 0 {
		return UnknownAccuracyKm
	}
	return km
}

// hasCoordinates reports whether a place has coordinates: a Locator that
// knows only the country gives 0,0.
func hasCoordinates(lat, lon float64) bool { return lat != 0 || lon != 0 }
