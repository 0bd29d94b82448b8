package apiview

import (
	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
)

// Erasure is an erasure job without the identities it erases.
func Erasure(j erasure.Job) bridgeevents.Erasure {
	return bridgeevents.Erasure{ID: j.ID, TenantID: j.TenantID, PhoneNumberID: j.PhoneNumberID, State: string(j.State),
		RequestedAt: j.RequestedAt.UTC(), RequestedBy: j.RequestedBy, UpdatedAt: j.UpdatedAt.UTC(), DoneAt: TimeOrNil(j.DoneAt),
		Erased: ErasureProgress(j.Progress)}
}

// ErasureProgress is what an erasure deleted so far, counted by kind.
func ErasureProgress(p erasure.Progress) bridgeevents.ErasureProgress {
	return bridgeevents.ErasureProgress{Messages: p.Messages, MediaObjects: p.MediaObjects,
		Conversations: p.Conversations, PendingEvents: p.PendingEvents, FeedEvents: p.FeedEvents, Contacts: p.Contacts}
}
