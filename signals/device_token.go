package signals

import "context"

// Reasons of [DeviceToken].
const (
	// DeviceTokenMissingReason: a known device whose browser presented a
	// device token before came without one.
	DeviceTokenMissingReason Reason = "device_token_missing"
	// DeviceTokenMismatchReason: the browser's device token names another
	// of the user's devices than its fingerprint matched.
	DeviceTokenMismatchReason Reason = "device_token_mismatch"
	// DisownedDeviceReason: the user said this device was not theirs.
	DisownedDeviceReason Reason = "disowned_device"
)

// Scores of [DeviceToken]'s findings.
const (
	DeviceTokenMissingScore  = 0.5
	DeviceTokenMismatchScore = 0.7
	DisownedDeviceScore      = 0.9
)

// DeviceToken reports what the browser's device token says against its
// fingerprint, and a device the user disowned:
//
//   - device_token_missing when the device the fingerprint matched
//     presented a valid token before and this attempt has none — the
//     browser's cookies were cleared (a private window, a cleaned browser),
//     or the fingerprint was copied (a phishing kit replaying it, a
//     look-alike browser);
//   - device_token_mismatch when a valid token of the user's names another
//     of the user's devices than the fingerprint matched exactly: the
//     fingerprint of one device is being sent from another;
//   - disowned_device when the user said the device was not theirs
//     ("it was not me").
//
// A token of another user's, a forged or an expired one counts as none: a
// family computer's browser keeps one member's token while another logs
// in.
func DeviceToken() Signal { return deviceToken{} }

type deviceToken struct{}

func (deviceToken) Name() string { return "device_token" }

func (deviceToken) Reasons() []ReasonInfo {
	return []ReasonInfo{
		{DeviceTokenMissingReason, DeviceTokenMissingScore, "a known device without the device token it presented before"},
		{DeviceTokenMismatchReason, DeviceTokenMismatchScore, "the device token names another of the user's devices than the fingerprint"},
		{DisownedDeviceReason, DisownedDeviceScore, "the user said this device was not theirs"},
	}
}

func (deviceToken) Detect(_ context.Context, in *Input) ([]Finding, error) {
	d := &in.Device
	var out []Finding
	if d.Disowned {
		out = append(out, Finding{
			Reason:   DisownedDeviceReason,
			Score:    DisownedDeviceScore,
			Detail:   "the user said device " + d.ID + " was not theirs",
			Evidence: map[string]string{"device_id": d.ID},
		})
	}
	switch d.Token {
	case TokenMissing:
		seen := ""
		if d.Profile != nil && !d.Profile.TokenSeen.IsZero() {
			seen = d.Profile.TokenSeen.UTC().Format("2006-01-02T15:04:05Z")
		}
		out = append(out, Finding{
			Reason:   DeviceTokenMissingReason,
			Score:    DeviceTokenMissingScore,
			Detail:   "device " + d.ID + " presented its device token before (last " + seen + "), and this attempt has none",
			Evidence: map[string]string{"device_id": d.ID, "match": string(d.Match), "token_last_seen": seen},
		})
	case TokenMismatch:
		out = append(out, Finding{
			Reason:   DeviceTokenMismatchReason,
			Score:    DeviceTokenMismatchScore,
			Detail:   "the fingerprint is device " + d.ID + "'s, and the device token another device's of the user",
			Evidence: map[string]string{"device_id": d.ID, "match": string(d.Match)},
		})
	}
	return out, nil
}

func (deviceToken) summary(f *Finding) string {
	switch f.Reason {
	case DeviceTokenMissingReason:
		return "a known device without its device token"
	case DeviceTokenMismatchReason:
		return "a device token of another device"
	}
	return "a device the user disowned"
}
