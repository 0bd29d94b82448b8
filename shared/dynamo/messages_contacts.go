package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
)

// contactState is a contact item decoded whole, for the identity change
// that rewrites it.
type contactState struct {
	c      messaging.Contact
	seen   bool
	seenNs int64
	// inbound: LastInboundAt is set; inboundNs is it in unix nanoseconds.
	inbound   bool
	inboundNs int64
	// convNs is the time of the sighting that gave c.ConversationID.
	convNs int64
	merged string
	linked string
	ver    int64
	exists bool
}

func contactFrom(phoneNumberID string, it map[string]types.AttributeValue) contactState {
	st := contactState{exists: it != nil, c: messaging.Contact{PhoneNumberID: phoneNumberID, Person: personFrom(it, "")},
		merged: stringAttr(it[attrMergedInto]), linked: stringAttr(it[attrPhoneLinked])}
	st.ver, _ = intAttr(it[attrVersion])
	if ns, err := intAttr(it[attrLastSeenNs]); err == nil {
		st.seen, st.seenNs = true, ns
		st.c.LastSeenAt = parseStamp(stringAttr(it[attrLastSeenAt]))
	}
	if ns, err := intAttr(it[attrLastInboundNs]); err == nil {
		st.inbound, st.inboundNs = true, ns
		st.c.LastInboundAt = parseStamp(stringAttr(it[attrLastInboundAt]))
	}
	st.c.ConversationID = stringAttr(it[attrConversationID])
	st.convNs, _ = intAttr(it[attrConversationNs])
	if l, ok := it[attrPrevious].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			st.c.PreviousBSUIDs = append(st.c.PreviousBSUIDs, stringAttr(v))
		}
	}
	if m, ok := mapOf(it[attrMarketing]); ok {
		seq, _ := intAttr(m["seq"])
		st.c.Marketing = &messaging.MarketingPreference{Status: stringAttr(m["status"]), Sequence: seq,
			OccurredAt: parseStamp(stringAttr(m["at"]))}
	}
	return st
}

func marketingAttr(p messaging.MarketingPreference) types.AttributeValue {
	m := map[string]types.AttributeValue{"seq": numberAttr(p.Sequence)}
	if p.Status != "" {
		m["status"] = str(p.Status)
	}
	if !p.OccurredAt.IsZero() {
		m["at"] = str(stamp(p.OccurredAt))
	}
	return &types.AttributeValueMemberM{Value: m}
}

// item is the whole contact item of st under k.
func (st contactState) item(k map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := k
	it[attrPhoneNumberID] = str(st.c.PhoneNumberID)
	for i, v := range personValues(st.c.Person) {
		if v != "" {
			it[personAttrs[i]] = str(v)
		}
	}
	if st.seen {
		it[attrLastSeenNs] = numberAttr(st.seenNs)
		if !st.c.LastSeenAt.IsZero() {
			it[attrLastSeenAt] = str(stamp(st.c.LastSeenAt))
		}
	}
	if st.inbound {
		it[attrLastInboundNs] = numberAttr(st.inboundNs)
		if !st.c.LastInboundAt.IsZero() {
			it[attrLastInboundAt] = str(stamp(st.c.LastInboundAt))
		}
	}
	if st.c.ConversationID != "" {
		it[attrConversationID] = str(st.c.ConversationID)
		it[attrConversationNs] = numberAttr(st.convNs)
	}
	if len(st.c.PreviousBSUIDs) > 0 {
		l := &types.AttributeValueMemberL{}
		for _, b := range st.c.PreviousBSUIDs {
			l.Value = append(l.Value, str(b))
		}
		it[attrPrevious] = l
	}
	if st.c.Marketing != nil {
		it[attrMarketing] = marketingAttr(*st.c.Marketing)
	}
	if st.merged != "" {
		it[attrMergedInto] = str(st.merged)
	}
	if st.linked != "" {
		it[attrPhoneLinked] = str(st.linked)
	}
	it[attrVersion] = numberAttr(st.ver)
	return it
}

// PutContact implements messaging.Store. The newest sighting sets the
// person's fields, an older one only fills missing ones, and a merged
// contact redirects the write to the contact it was merged into. In the
// steady state this is one UpdateItem; a sighting older than the stored
// one that still brings a newer inbound time or conversation costs one
// more, conditional on them; a person newly seen with both BSUID and phone
// costs two more, which point the phone contact at the BSUID one and give
// that one what the phone contact knew. The link is recorded last
// (phone_linked), so a crash in between is repaired by the next sighting.
func (s *Messages) PutContact(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, sg messaging.Sighting) error {
	wrap := func(err error) error {
		return fmt.Errorf("put contact %s on %s: %w", p.Key(), phoneNumberID, refused(err))
	}
	k := p.Key()
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return wrap(invalid("contact without tenant, number or person"))
	}
	k, after, err := s.sight(ctx, tenantID, phoneNumberID, k, p, sg)
	if err != nil {
		return wrap(err)
	}
	phoneKey := messaging.Person{Phone: p.Phone}.Key()
	if p.BSUID == "" || p.Phone == "" || stringAttr(after[attrPhoneLinked]) == p.Phone || k == phoneKey {
		return nil
	}
	u := newUpdate()
	u.setTo(attrMergedInto, str(k))
	u.setTo(attrPhoneNumberID, str(phoneNumberID))
	u.addTo(attrVersion, numberAttr(1))
	out, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, phoneKey), u, "", types.ReturnValueAllOld)
	if err != nil {
		return wrap(fmt.Errorf("merge %s: %w", phoneKey, err))
	}
	prev := contactFrom(phoneNumberID, out.Attributes)
	if err := s.link(ctx, contactKey(tenantID, phoneNumberID, k), p.Phone, prev, after); err != nil {
		return wrap(fmt.Errorf("link %s: %w", phoneKey, err))
	}
	return nil
}

// link records that the phone contact prev was merged into the contact
// under key, whose item is it, and gives that one what prev knew: the
// person's fields and marketing preference where it has none, and prev's
// sighting times and conversation where they are newer. Those are
// conditional on the values it holds, so a sighting written meanwhile is
// never undone; on a failed condition it decides again from the item as
// it is then.
func (s *Messages) link(ctx context.Context, key map[string]types.AttributeValue, phone string, prev contactState, it map[string]types.AttributeValue) error {
	for range 5 {
		cur := contactFrom("", it)
		u := newUpdate()
		u.setTo(attrPhoneLinked, str(phone))
		u.put(false, "name", prev.c.Person.Name)
		u.put(false, "username", prev.c.Person.Username)
		u.put(false, "phone", prev.c.Person.Phone)
		if prev.c.Marketing != nil {
			u.fill(attrMarketing, marketingAttr(*prev.c.Marketing))
		}
		var conds []string
		if prev.seen && (!cur.seen || prev.seenNs > cur.seenNs) {
			conds = append(conds, setNewer(u, attrLastSeenNs, attrLastSeenAt, prev.seenNs, prev.c.LastSeenAt))
		}
		if prev.inbound && (!cur.inbound || prev.inboundNs > cur.inboundNs) {
			conds = append(conds, setNewer(u, attrLastInboundNs, attrLastInboundAt, prev.inboundNs, prev.c.LastInboundAt))
		}
		if prev.c.ConversationID != "" && (cur.c.ConversationID == "" || prev.convNs > cur.convNs) {
			conds = append(conds, setConversation(u, prev.c.ConversationID, prev.convNs))
		}
		u.addTo(attrVersion, numberAttr(1))
		_, err := s.updateItem(ctx, key, u, strings.Join(conds, " AND "), types.ReturnValueNone)
		old, failed := conditionFailedItem(err)
		if !failed {
			return err
		}
		it = old // a newer sighting landed meanwhile
	}
	return errs.E(errs.Unavailable, "contact kept changing", nil)
}

// setConversation sets the contact's conversation to id, seen at ns, and
// returns the condition that keeps a conversation seen later.
// setNewer sets a time kept twice, in nanoseconds (nsAttr, compared) and
// as a stamp (atAttr, shown; left alone for the zero time), to ns and at,
// and returns the condition that keeps it from moving back.
func setNewer(u *update, nsAttr, atAttr string, ns int64, at time.Time) string {
	n, v := u.name(nsAttr), u.val(numberAttr(ns))
	u.set = append(u.set, n+" = "+v)
	if !at.IsZero() {
		u.setTo(atAttr, str(stamp(at)))
	}
	return "(attribute_not_exists(" + n + ") OR " + n + " < " + v + ")"
}

func setConversation(u *update, id string, ns int64) string {
	c, n, v := u.name(attrConversationID), u.name(attrConversationNs), u.val(numberAttr(ns))
	u.set = append(u.set, c+" = "+u.val(str(id)), n+" = "+v)
	return "(attribute_not_exists(" + c + ") OR attribute_not_exists(" + n + ") OR " + n + " < " + v + ")"
}

// sight writes the sighting sg of p to the contact k, or to the contact k
// was merged into; it returns the key written and the item after.
func (s *Messages) sight(ctx context.Context, tenantID, phoneNumberID, k string, p messaging.Person, sg messaging.Sighting) (string, map[string]types.AttributeValue, error) {
	seen := map[string]bool{}
	at := unixNanos(sg.At)
	for range maxHops {
		seen[k] = true
		key := contactKey(tenantID, phoneNumberID, k)
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, true, "", p)
		u.addTo(attrVersion, numberAttr(1))
		ns := u.name(attrLastSeenNs)
		cond := "attribute_not_exists(" + attrMergedInto + ") AND (attribute_not_exists(" + ns + ")"
		if !sg.At.IsZero() {
			t := u.val(numberAttr(at))
			u.set = append(u.set, ns+" = "+t)
			u.setTo(attrLastSeenAt, str(stamp(sg.At)))
			cond += " OR " + ns + " <= " + t
			if sg.Inbound {
				// No sighting, inbound or not, is newer than this one.
				u.set = append(u.set, u.name(attrLastInboundNs)+" = "+t)
				u.setTo(attrLastInboundAt, str(stamp(sg.At)))
			}
		}
		cond += ")"
		if sg.ConversationID != "" {
			u.setTo(attrConversationID, str(sg.ConversationID))
			u.setTo(attrConversationNs, numberAttr(at))
		}
		out, err := s.updateItem(ctx, key, u, cond, types.ReturnValueAllNew)
		if err == nil {
			return k, out.Attributes, nil
		}
		old, failed := conditionFailedItem(err)
		if !failed {
			return k, nil, err
		}
		if m := stringAttr(old[attrMergedInto]); m != "" {
			if seen[m] {
				return k, nil, fmt.Errorf("contact merges loop at %s", m)
			}
			k = m
			continue
		}
		// An older sighting: it only fills what is missing.
		u = newUpdate()
		putPerson(u, false, "", p)
		u.addTo(attrVersion, numberAttr(1))
		out, err = s.updateItem(ctx, key, u, "attribute_not_exists("+attrMergedInto+")", types.ReturnValueAllNew)
		if err != nil {
			if old, failed = conditionFailedItem(err); !failed {
				return k, nil, err
			}
			k = stringAttr(old[attrMergedInto]) // merged meanwhile: follow it
			continue
		}
		it, merged, err := s.lateSighting(ctx, key, out.Attributes, sg)
		if err != nil {
			return k, nil, err
		}
		if merged != "" {
			k = merged
			continue
		}
		return k, it, nil
	}
	return k, nil, fmt.Errorf("contact merged more than %d times", maxHops)
}

// lateSighting gives the contact under key, whose item is it, what the
// older sighting sg still brings: its time as LastInboundAt when it is
// inbound and newer than the stored one, its conversation when the stored
// one was seen earlier. That is one UpdateItem, conditional on what it
// replaces, and none when there is nothing to give. It returns the item
// after, or the key the contact was merged into meanwhile.
func (s *Messages) lateSighting(ctx context.Context, key, it map[string]types.AttributeValue, sg messaging.Sighting) (map[string]types.AttributeValue, string, error) {
	at := unixNanos(sg.At)
	for range 5 {
		cur := contactFrom("", it)
		u := newUpdate()
		var conds []string
		if sg.Inbound && !sg.At.IsZero() && (!cur.inbound || cur.inboundNs < at) {
			conds = append(conds, setNewer(u, attrLastInboundNs, attrLastInboundAt, at, sg.At))
		}
		if sg.ConversationID != "" && (cur.c.ConversationID == "" || cur.convNs < at) {
			conds = append(conds, setConversation(u, sg.ConversationID, at))
		}
		if len(conds) == 0 {
			return it, "", nil
		}
		u.addTo(attrVersion, numberAttr(1))
		conds = append(conds, "attribute_not_exists("+u.name(attrMergedInto)+")")
		out, err := s.updateItem(ctx, key, u, strings.Join(conds, " AND "), types.ReturnValueAllNew)
		if err == nil {
			return out.Attributes, "", nil
		}
		old, failed := conditionFailedItem(err)
		if !failed {
			return nil, "", err
		}
		if m := stringAttr(old[attrMergedInto]); m != "" {
			return nil, m, nil
		}
		it = old // a newer sighting landed meanwhile: decide again
	}
	return nil, "", errs.E(errs.Unavailable, "contact kept changing", nil)
}

// ChangeIdentity implements messaging.Store: it reads both contacts (one
// BatchGetItem), writes the new contact whole, conditional on the version
// it read, and points the old contact at it.
func (s *Messages) ChangeIdentity(ctx context.Context, tenantID, phoneNumberID string, previous, current messaging.Person, at time.Time) error {
	wrap := func(err error) error {
		return fmt.Errorf("change identity %s to %s on %s: %w", previous.BSUID, current.BSUID, phoneNumberID, refused(err))
	}
	if tenantID == "" || phoneNumberID == "" || previous.BSUID == "" || current.BSUID == "" {
		return wrap(invalid("identity change without both BSUIDs"))
	}
	if previous.BSUID == current.BSUID {
		return s.PutContact(ctx, tenantID, phoneNumberID, current, messaging.Sighting{At: at})
	}
	oldKey, curKey := previous.Key(), current.Key()
	for range 5 {
		items, err := s.getContacts(ctx, tenantID, phoneNumberID, []string{oldKey, curKey}, true)
		if err != nil {
			return wrap(err)
		}
		targetKey, revert, err := s.identityTarget(ctx, tenantID, phoneNumberID, oldKey, curKey, items)
		if err != nil {
			return wrap(err)
		}
		old, target := contactFrom(phoneNumberID, items[oldKey]), contactFrom(phoneNumberID, items[targetKey])
		next := identityMerge(phoneNumberID, previous.BSUID, current, targetKey == curKey, old, target, at)
		if revert {
			next.merged = ""
		}
		next.ver = target.ver + 1
		cond, vals := "attribute_not_exists(pk)", map[string]types.AttributeValue{}
		if target.exists {
			cond, vals = "attribute_exists(pk) AND (attribute_not_exists(ver) OR ver = :v)", map[string]types.AttributeValue{":v": numberAttr(target.ver)}
			if _, ok := items[targetKey][attrVersion]; ok {
				cond = "ver = :v"
			}
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(s.Table),
			Item:                next.item(contactKey(tenantID, phoneNumberID, targetKey)),
			ConditionExpression: aws.String(cond)}
		if len(vals) > 0 {
			in.ExpressionAttributeValues = vals
		}
		_, err = s.DB.PutItem(ctx, in)
		if isConditionFailed(err) {
			continue // written meanwhile: read again
		}
		if err != nil {
			return wrap(err)
		}
		u := newUpdate()
		u.setTo(attrMergedInto, str(targetKey))
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		u.addTo(attrVersion, numberAttr(1))
		if _, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, oldKey), u, "", types.ReturnValueNone); err != nil {
			return wrap(err)
		}
		return nil
	}
	return wrap(errs.E(errs.Unavailable, "contact kept changing", nil))
}

// identityTarget is the contact an identity change writes to: the current
// BSUID's, or where a later change that arrived first already merged it. A
// chain leading back to the previous BSUID is a person going back to an
// earlier BSUID: the current one is then the contact again (revert).
func (s *Messages) identityTarget(ctx context.Context, tenantID, phoneNumberID, oldKey, curKey string, items map[string]map[string]types.AttributeValue) (string, bool, error) {
	k, seen := curKey, map[string]bool{curKey: true}
	for range maxHops {
		m := stringAttr(items[k][attrMergedInto])
		if m == "" {
			return k, false, nil
		}
		if m == oldKey || seen[m] {
			return curKey, true, nil
		}
		seen[m] = true
		if _, ok := items[m]; !ok {
			got, err := s.getContacts(ctx, tenantID, phoneNumberID, []string{m}, true)
			if err != nil {
				return "", false, err
			}
			items[m] = got[m]
		}
		k = m
	}
	return k, false, nil
}

// identityMerge is the target contact after an identity change: the
// current person's fields (all of them when the target is the current
// BSUID's own contact, else only what it lacks), the old contact's where
// missing, the previous BSUIDs of both plus the previous one, the newest
// sighting, inbound time and conversation, and the highest marketing
// sequence. memstore.identityMerge is its twin.
func identityMerge(phoneNumberID, previousBSUID string, current messaging.Person, own bool, old, target contactState, at time.Time) contactState {
	next := target
	next.c.PhoneNumberID = phoneNumberID
	next.c.PreviousBSUIDs = nil
	if own {
		next.c.Person = overwritePerson(next.c.Person, current)
	} else {
		cur := current
		cur.BSUID, cur.ParentBSUID = "", ""
		next.c.Person = fillPerson(next.c.Person, cur)
	}
	var prev []string
	if old.exists {
		p := old.c.Person
		next.c.Person = fillPerson(next.c.Person, messaging.Person{Name: p.Name, Username: p.Username, Phone: p.Phone})
		if om := old.c.Marketing; om != nil && (next.c.Marketing == nil || next.c.Marketing.Sequence < om.Sequence) {
			m := *om
			next.c.Marketing = &m
		}
		if old.seen && (!next.seen || old.seenNs > next.seenNs) {
			next.seen, next.seenNs, next.c.LastSeenAt = true, old.seenNs, old.c.LastSeenAt
		}
		if old.inbound && (!next.inbound || old.inboundNs > next.inboundNs) {
			next.inbound, next.inboundNs, next.c.LastInboundAt = true, old.inboundNs, old.c.LastInboundAt
		}
		if old.c.ConversationID != "" && (next.c.ConversationID == "" || old.convNs > next.convNs) {
			next.c.ConversationID, next.convNs = old.c.ConversationID, old.convNs
		}
		prev = append(prev, old.c.PreviousBSUIDs...)
	}
	if ns := unixNanos(at); !at.IsZero() && (!next.seen || ns > next.seenNs) {
		next.seen, next.seenNs, next.c.LastSeenAt = true, ns, at.UTC()
	}
	prev = append(prev, previousBSUID)
	prev = append(prev, target.c.PreviousBSUIDs...)
	for _, b := range prev {
		if b != next.c.Person.BSUID && !slices.Contains(next.c.PreviousBSUIDs, b) {
			next.c.PreviousBSUIDs = append(next.c.PreviousBSUIDs, b)
		}
	}
	return next
}

func overwritePerson(p, q messaging.Person) messaging.Person {
	v := personValues(q)
	w := personValues(p)
	for i := range v {
		if v[i] != "" {
			w[i] = v[i]
		}
	}
	return messaging.Person{BSUID: w[0], ParentBSUID: w[1], Username: w[2], Phone: w[3], Name: w[4]}
}

func fillPerson(p, q messaging.Person) messaging.Person {
	return overwritePerson(q, p)
}

// SetMarketingPreference implements messaging.Store: one UpdateItem,
// conditional on no higher sequence being stored (then nothing changes),
// following the contact's merge.
func (s *Messages) SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	wrap := func(err error) error {
		return fmt.Errorf("set marketing preference of %s on %s: %w", p.Key(), phoneNumberID, refused(err))
	}
	k := p.Key()
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return wrap(invalid("preference without tenant, number or person"))
	}
	seen := map[string]bool{}
	for range maxHops {
		seen[k] = true
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, false, "", p)
		u.setTo(attrMarketing, marketingAttr(pref))
		u.addTo(attrVersion, numberAttr(1))
		mk, seq := u.name(attrMarketing), u.name(attrMarketing+".seq")
		cond := "attribute_not_exists(" + attrMergedInto + ") AND (attribute_not_exists(" + mk + ") OR " + seq + " < " + u.val(numberAttr(pref.Sequence)) + ")"
		_, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, k), u, cond, types.ReturnValueNone)
		old, failed := conditionFailedItem(err)
		if !failed {
			if err != nil {
				return wrap(err)
			}
			return nil
		}
		m := stringAttr(old[attrMergedInto])
		if m == "" {
			return nil // a higher sequence is stored
		}
		if seen[m] {
			return wrap(fmt.Errorf("contact merges loop at %s", m))
		}
		k = m
	}
	return wrap(fmt.Errorf("contact merged more than %d times", maxHops))
}

// getContacts reads the contacts of the person keys in BatchGetItems of up
// to 100 keys, retrying unprocessed keys; missing ones are absent.
func (s *Messages) getContacts(ctx context.Context, tenantID, phoneNumberID string, personKeys []string, consistent bool) (map[string]map[string]types.AttributeValue, error) {
	refs := make([]contactRef, 0, len(personKeys))
	for _, k := range personKeys {
		refs = append(refs, contactRef{phoneNumberID, k})
	}
	got, err := s.batchContacts(ctx, tenantID, refs, consistent)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]types.AttributeValue, len(got))
	for r, it := range got {
		out[r.key] = it
	}
	return out, nil
}

type contactRef struct{ phoneNumberID, key string }

func (s *Messages) batchContacts(ctx context.Context, tenantID string, refs []contactRef, consistent bool) (map[contactRef]map[string]types.AttributeValue, error) {
	byPK := map[string]contactRef{}
	var keys []map[string]types.AttributeValue
	for _, r := range refs {
		pk := contactPK(tenantID, r.phoneNumberID, r.key)
		if _, dup := byPK[pk]; dup {
			continue
		}
		byPK[pk] = r
		keys = append(keys, contactKey(tenantID, r.phoneNumberID, r.key))
	}
	out := map[contactRef]map[string]types.AttributeValue{}
	for chunk := range slices.Chunk(keys, 100) {
		req := map[string]types.KeysAndAttributes{s.Table: {Keys: chunk, ConsistentRead: aws.Bool(consistent)}}
		for attempt := 0; len(req) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 8 {
					return nil, errs.E(errs.Unavailable, "contacts left unprocessed", nil)
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
				}
			}
			res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("read contacts: %w", err)
			}
			for _, it := range res.Responses[s.Table] {
				out[byPK[stringAttr(it[schema.AttrPK])]] = it
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Contact implements messaging.Reader.
func (s *Messages) Contact(ctx context.Context, tenantID, phoneNumberID, bsuidOrPhone string) (messaging.Contact, bool, error) {
	k := messaging.LookupKey(bsuidOrPhone)
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return messaging.Contact{}, false, nil
	}
	var item map[string]types.AttributeValue
	seen := map[string]bool{}
	for range maxHops {
		var err error
		if item, err = s.getItem(ctx, contactKey(tenantID, phoneNumberID, k)); err != nil {
			return messaging.Contact{}, false, fmt.Errorf("read contact %s: %w", k, err)
		}
		if item == nil {
			return messaging.Contact{}, false, nil
		}
		m := stringAttr(item[attrMergedInto])
		seen[k] = true
		if m == "" || seen[m] {
			break
		}
		k = m
	}
	return contactFrom(phoneNumberID, item).c, true, nil
}
