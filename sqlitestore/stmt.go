package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Prepared statements.
//
// SQLite parses and plans a statement each time its text is executed, which
// for the short statements of an evaluation costs about as much as running
// them. So the fixed statements of the frequent calls — Load, Commit,
// AddFailure and the single reads — are prepared once, when the store
// opens, as *sql.Stmt of the pool that runs them: the read statements
// (readStmt) on both pools, since read transactions run on either (see
// readTx), and the write statements (writeStmt) on the writer pool.
// database/sql then prepares each of them at most once per connection of
// the pool, when it is first used there, and keeps it: a statement run on
// the pool (stmt.QueryContext) or in a transaction (tx.StmtContext(ctx,
// stmt)) reuses the one prepared on the connection. Statements whose text
// would vary with their arguments take a list as one JSON parameter read
// with json_each instead, so that their text is fixed.
//
// They are prepared when the store opens rather than on first use because
// preparing on a pool takes one of its connections: a transaction of the
// one-connection writer that prepared a statement would wait for itself.
// The rare calls (UpdateChallenge, DeleteLink, PutFactor, UpdateFactor,
// DeleteFactor, Secret, DeleteUser, Purge) run their statements by text.

// readStmt names a read statement.
type readStmt int

// Read statements; readSQL holds their text.
const (
	rDevice readStmt = iota
	rKeyHits
	rDevicesByID
	rUserDevices
	rDeviceUsers
	rEvents
	rCountFailures
	rLoadCounts
	rChallenge
	rLinkedUsers
	rFactor
	rUserLinksOf
	numReadStmts
)

// readSQL is the text of each readStmt.
var readSQL = [numReadStmts]string{
	rDevice:        deviceQuery,
	rKeyHits:       keyHitsQuery,
	rDevicesByID:   devicesByIDQuery,
	rUserDevices:   userDevicesQuery,
	rDeviceUsers:   deviceUsersQuery,
	rEvents:        eventsQuery,
	rCountFailures: countFailuresQuery,
	rLoadCounts:    loadCountsQuery,
	rChallenge:     challengeQuery,
	rLinkedUsers:   linkedUsersQuery,
	rFactor:        factorQuery,
	rUserLinksOf:   userLinksOfQuery,
}

// writeStmt names a write statement.
type writeStmt int

// Write statements; writeSQL holds their text.
const (
	wRefreshDevice writeStmt = iota
	wUpsertDevice
	wDeleteStaleKeys
	wInsertKeys
	wCapKeys
	wDeviceExists
	wUpsertLink
	wInsertEvent
	wTrimUnsuccessful
	wTrimOldest
	wChallengeExists
	wOverrideChallenges
	wInsertChallenge
	wInsertFailure
	wTrimUserFailures
	wInsertNetworkFailure
	wTrimNetworkFailures
	wTransition
	wChallengeUser
	wRestrict
	wLift
	numWriteStmts
)

// writeSQL is the text of each writeStmt.
var writeSQL = [numWriteStmts]string{
	wRefreshDevice:        refreshDeviceSQL,
	wUpsertDevice:         upsertDeviceSQL,
	wDeleteStaleKeys:      deleteStaleKeysSQL,
	wInsertKeys:           insertKeysSQL,
	wCapKeys:              capKeysSQL,
	wDeviceExists:         deviceExistsQuery,
	wUpsertLink:           upsertLinkSQL,
	wInsertEvent:          insertEventSQL,
	wTrimUnsuccessful:     trimUnsuccessfulSQL,
	wTrimOldest:           trimOldestSQL,
	wChallengeExists:      challengeExistsQuery,
	wOverrideChallenges:   overrideChallengesSQL,
	wInsertChallenge:      insertChallengeSQL,
	wInsertFailure:        insertFailureSQL,
	wTrimUserFailures:     trimUserFailuresSQL,
	wInsertNetworkFailure: insertNetworkFailureSQL,
	wTrimNetworkFailures:  trimNetworkFailuresSQL,
	wTransition:           transitionSQL,
	wChallengeUser:        challengeUserQuery,
	wRestrict:             restrictSQL,
	wLift:                 liftSQL,
}

// prepareAll prepares every text of queries on db. On failure it closes
// those it prepared.
func prepareAll(ctx context.Context, db *sql.DB, queries []string) ([]*sql.Stmt, error) {
	stmts := make([]*sql.Stmt, 0, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeAll(stmts)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// closeAll closes the statements and joins their errors.
func closeAll(stmts []*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rstmt returns the read statement id of the reader pool, to run on the
// pool.
func (s *Store) rstmt(id readStmt) *sql.Stmt { return s.rstmts[id] }

// wtx returns the write statement id bound to tx, a write transaction.
func (s *Store) wtx(ctx context.Context, tx *sql.Tx, id writeStmt) *sql.Stmt {
	return tx.StmtContext(ctx, s.wstmts[id])
}
