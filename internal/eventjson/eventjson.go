// Package eventjson is the stored form of a challenge's attempt (a
// [storage.Event]) as JSON, shared by the SQL stores: times as UTC unix
// milliseconds, empty fields left out.
package eventjson

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/atoguard/ato/storage"
)

// event is the JSON form. The names are stored: never change one.
type event struct {
	ID          string   `json:"id,omitempty"`
	User        string   `json:"user,omitempty"`
	Time        int64    `json:"time,omitempty"`
	Kind        string   `json:"kind,omitempty"`
	Action      string   `json:"action,omitempty"`
	Verdict     string   `json:"verdict,omitempty"`
	Success     bool     `json:"success,omitempty"`
	DeviceID    string   `json:"device_id,omitempty"`
	IP          string   `json:"ip,omitempty"`
	Network     string   `json:"network,omitempty"`
	Located     bool     `json:"located,omitempty"`
	Country     string   `json:"country,omitempty"`
	Region      string   `json:"region,omitempty"`
	City        string   `json:"city,omitempty"`
	Latitude    float64  `json:"lat,omitempty"`
	Longitude   float64  `json:"lon,omitempty"`
	AccuracyKm  float64  `json:"accuracy_km,omitempty"`
	ASN         uint32   `json:"asn,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
	ChallengeID string   `json:"challenge_id,omitempty"`
}

// Encode returns the stored form of e.
func Encode(e *storage.Event) ([]byte, error) {
	var at int64
	if !e.Time.IsZero() {
		at = e.Time.UnixMilli()
	}
	b, err := json.Marshal(event{
		ID: e.ID, User: e.User, Time: at,
		Kind: e.Kind, Action: e.Action, Verdict: e.Verdict, Success: e.Success,
		DeviceID: e.DeviceID, IP: e.IP, Network: e.Network,
		Located: e.Located, Country: e.Country, Region: e.Region, City: e.City,
		Latitude: e.Latitude, Longitude: e.Longitude, AccuracyKm: e.AccuracyKm,
		ASN: e.ASN, Reasons: e.Reasons, ChallengeID: e.ChallengeID,
	})
	if err != nil {
		return nil, fmt.Errorf("encode attempt: %w", err)
	}
	return b, nil
}

// Decode is the inverse of Encode; empty data is the zero Event.
func Decode(data []byte) (storage.Event, error) {
	var j event
	if len(data) > 0 {
		if err := json.Unmarshal(data, &j); err != nil {
			return storage.Event{}, fmt.Errorf("decode attempt: %w", err)
		}
	}
	e := storage.Event{
		ID: j.ID, User: j.User,
		Kind: j.Kind, Action: j.Action, Verdict: j.Verdict, Success: j.Success,
		DeviceID: j.DeviceID, IP: j.IP, Network: j.Network,
		Located: j.Located, Country: j.Country, Region: j.Region, City: j.City,
		Latitude: j.Latitude, Longitude: j.Longitude, AccuracyKm: j.AccuracyKm,
		ASN: j.ASN, ChallengeID: j.ChallengeID,
	}
	if j.Time != 0 {
		e.Time = time.UnixMilli(j.Time).UTC()
	}
	if len(j.Reasons) > 0 {
		e.Reasons = j.Reasons
	}
	return e, nil
}
