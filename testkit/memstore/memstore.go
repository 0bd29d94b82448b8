// Package memstore holds in-memory twins of kapso-bridge's DynamoDB stores:
// each keeps in memory what its adapter in shared/dynamo keeps in a table,
// follows the same domain rules, and passes the same contract suite
// (shared/storetest), so worker and handler tests can run without DynamoDB
// Local. The zero value of each is ready to use and safe for concurrent use;
// nothing is ever evicted. It is test support, imported by no production
// code, so a twin may export reads its interface leaves out.
package memstore

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

func now(f func() time.Time) time.Time {
	if f != nil {
		return f().UTC()
	}
	return time.Now().UTC()
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
