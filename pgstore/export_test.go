package pgstore

// LockSeed is the seed of the advisory locks of the users of the schema,
// for tests that hold one.
func LockSeed(schema string) int64 { return lockSeed(schema) }
