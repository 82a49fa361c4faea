package signals

// Builtin returns the built-in signals in the order the engine runs them.
func Builtin() []Signal {
	return []Signal{NewUser(), NewDevice(), NewIP(), MissingFingerprint()}
}
