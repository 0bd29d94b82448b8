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

// contactState is a contact item decoded whole: the contact as the domain
// merges it, and the item's merge pointers and version.
type contactState struct {
	rec    messaging.ContactRecord
	merged string // the person key it was merged into
	linked string // the phone whose contact it last took in
	ver    int64
	exists bool
}

func contactFrom(phoneNumberID string, it map[string]types.AttributeValue) contactState {
	st := contactState{exists: it != nil, merged: stringAttr(it[attrMergedInto]), linked: stringAttr(it[attrPhoneLinked])}
	c := &st.rec
	c.PhoneNumberID, c.Person = phoneNumberID, personFrom(it, "")
	st.ver, _ = intAttr(it[attrVersion])
	if _, err := intAttr(it[attrLastSeenNs]); err == nil {
		c.LastSeenAt = parseStamp(stringAttr(it[attrLastSeenAt]))
	}
	if _, err := intAttr(it[attrLastInboundNs]); err == nil {
		c.LastInboundAt = parseStamp(stringAttr(it[attrLastInboundAt]))
	}
	c.ConversationID = stringAttr(it[attrConversationID])
	if ns, err := intAttr(it[attrConversationNs]); err == nil && ns > 0 {
		c.ConversationAt = time.Unix(0, ns).UTC()
	}
	if l, ok := it[attrPrevious].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			c.PreviousBSUIDs = append(c.PreviousBSUIDs, stringAttr(v))
		}
	}
	if m, ok := mapOf(it[attrMarketing]); ok {
		seq, _ := intAttr(m["seq"])
		c.Marketing = &messaging.MarketingPreference{Status: stringAttr(m["status"]), Sequence: seq,
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
	it, c := k, st.rec
	it[attrPhoneNumberID] = str(c.PhoneNumberID)
	for i, v := range personValues(c.Person) {
		if v != "" {
			it[personAttrs[i]] = str(v)
		}
	}
	if !c.LastSeenAt.IsZero() {
		it[attrLastSeenNs] = numberAttr(messaging.Instant(c.LastSeenAt))
		it[attrLastSeenAt] = str(stamp(c.LastSeenAt))
	}
	if !c.LastInboundAt.IsZero() {
		it[attrLastInboundNs] = numberAttr(messaging.Instant(c.LastInboundAt))
		it[attrLastInboundAt] = str(stamp(c.LastInboundAt))
	}
	if c.ConversationID != "" {
		it[attrConversationID] = str(c.ConversationID)
		it[attrConversationNs] = numberAttr(messaging.Instant(c.ConversationAt))
	}
	if len(c.PreviousBSUIDs) > 0 {
		l := &types.AttributeValueMemberL{}
		for _, b := range c.PreviousBSUIDs {
			l.Value = append(l.Value, str(b))
		}
		it[attrPrevious] = l
	}
	if c.Marketing != nil {
		it[attrMarketing] = marketingAttr(*c.Marketing)
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

// PutContact implements messaging.Store by the rule of
// messaging.MergeContact, and a merged contact redirects the write to the
// contact it was merged into. In the steady state this is one UpdateItem;
// a sighting older than the stored one that still brings a newer inbound
// time or conversation costs one more, conditional on them; a person newly
// seen with both BSUID and phone (messaging.LinksPhone) costs two more,
// which point the phone contact at the BSUID one and give that one what
// the phone contact knew. The link is recorded last (phone_linked), so a
// crash in between is repaired by the next sighting.
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
	phoneKey, link := messaging.LinksPhone(p, k, stringAttr(after[attrPhoneLinked]))
	if !link {
		return nil
	}
	u := newUpdate()
	u.setTo(attrMergedInto, str(k))
	u.setTo(attrPhoneNumberID, str(phoneNumberID))
	u.addTo(attrVersion, numberAttr(1))
	s.expire(u, false, sg.At)
	out, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, phoneKey), u, "", types.ReturnValueAllOld)
	if err != nil {
		return wrap(fmt.Errorf("merge %s: %w", phoneKey, err))
	}
	prev := contactFrom(phoneNumberID, out.Attributes)
	if err := s.link(ctx, contactKey(tenantID, phoneNumberID, k), p.Phone, prev.rec, after); err != nil {
		return wrap(fmt.Errorf("link %s: %w", phoneKey, err))
	}
	return nil
}

// link records that the phone contact prev was merged into the contact
// under key, whose item is it, and gives that one what
// messaging.Absorb takes of prev. On a failed condition (a sighting
// written meanwhile) it decides again from the item as it is then.
func (s *Messages) link(ctx context.Context, key map[string]types.AttributeValue, phone string, prev messaging.ContactRecord, it map[string]types.AttributeValue) error {
	for range 5 {
		cur := contactFrom("", it).rec
		u := newUpdate()
		u.setTo(attrPhoneLinked, str(phone))
		conds := mergeUpdate(u, cur, messaging.Absorb(cur, prev), prev)
		u.addTo(attrVersion, numberAttr(1))
		_, err := s.updateItem(ctx, key, u, strings.Join(conds, " AND "), types.ReturnValueNone)
		old, failed := conditionFailedItem(err)
		if !failed {
			return err
		}
		it = old
	}
	return errs.E(errs.Unavailable, "contact kept changing", nil)
}

// mergeUpdate adds to u what merged, the domain's merge of view into cur
// (the item as read), changes of cur, and returns the conditions that keep
// the merge's decisions true until the write: a time, a conversation or a
// preference only moves forward, and a person field view replaces only
// while view is still the newest view. A field merged only fills is
// written so (if_not_exists): a value written meanwhile stays.
func mergeUpdate(u *update, cur, merged, view messaging.ContactRecord) []string {
	var conds []string
	newest := false
	was, now := personValues(cur.Person), personValues(merged.Person)
	for i := range now {
		switch {
		case now[i] == was[i]:
		case was[i] == "":
			u.fill(personAttrs[i], str(now[i]))
		default:
			u.setTo(personAttrs[i], str(now[i]))
			newest = true
		}
	}
	if !sameTime(cur.LastSeenAt, merged.LastSeenAt) {
		conds = append(conds, setNewer(u, attrLastSeenNs, attrLastSeenAt, messaging.Instant(merged.LastSeenAt), merged.LastSeenAt, false))
	}
	if !sameTime(cur.LastInboundAt, merged.LastInboundAt) {
		conds = append(conds, setNewer(u, attrLastInboundNs, attrLastInboundAt, messaging.Instant(merged.LastInboundAt), merged.LastInboundAt, false))
	}
	if merged.ConversationID != cur.ConversationID || !sameTime(cur.ConversationAt, merged.ConversationAt) {
		tie := cur.ConversationID != "" && messaging.Instant(cur.ConversationAt) == messaging.Instant(merged.ConversationAt)
		conds = append(conds, setConversation(u, merged.ConversationID, messaging.Instant(merged.ConversationAt), tie))
		newest = newest || tie
	}
	if m := merged.Marketing; m != nil && (cur.Marketing == nil || *m != *cur.Marketing) {
		mk := u.name(attrMarketing)
		u.set = append(u.set, mk+" = "+u.val(marketingAttr(*m)))
		conds = append(conds, "(attribute_not_exists("+mk+") OR "+u.name(attrMarketing+".seq")+" < "+u.val(numberAttr(m.Sequence))+")")
	}
	if newest {
		// What view replaced stays replaced while no newer view landed.
		n := u.name(attrLastSeenNs)
		c := "attribute_not_exists(" + n + ")"
		if !view.LastSeenAt.IsZero() {
			c = "(" + c + " OR " + n + " <= " + u.val(numberAttr(messaging.Instant(view.LastSeenAt))) + ")"
		}
		conds = append(conds, c)
	}
	return conds
}

// sameTime reports whether a and b are the same stored time.
func sameTime(a, b time.Time) bool {
	return a.IsZero() == b.IsZero() && messaging.Instant(a) == messaging.Instant(b)
}

// setNewer sets a time kept twice, in nanoseconds (nsAttr, compared) and
// as a stamp (atAttr, shown; left alone for the zero time), to ns and at,
// and returns the condition that keeps it from moving back (or, orEqual,
// from moving back or sideways).
func setNewer(u *update, nsAttr, atAttr string, ns int64, at time.Time, orEqual bool) string {
	n, v := u.name(nsAttr), u.val(numberAttr(ns))
	u.set = append(u.set, n+" = "+v)
	if !at.IsZero() {
		u.setTo(atAttr, str(stamp(at)))
	}
	return "(attribute_not_exists(" + n + ") OR " + n + before(orEqual) + v + ")"
}

// setConversation sets the contact's conversation to id, seen at ns, and
// returns the condition that keeps a conversation seen later (or, orEqual,
// at the same time).
func setConversation(u *update, id string, ns int64, orEqual bool) string {
	c, n, v := u.name(attrConversationID), u.name(attrConversationNs), u.val(numberAttr(ns))
	u.set = append(u.set, c+" = "+u.val(str(id)), n+" = "+v)
	return "(attribute_not_exists(" + c + ") OR attribute_not_exists(" + n + ") OR " + n + before(orEqual) + v + ")"
}

func before(orEqual bool) string {
	if orEqual {
		return " <= "
	}
	return " < "
}

// sight writes the sighting sg of p to the contact k, or to the contact k
// was merged into (which takes p without its BSUIDs: Person.Under); it
// returns the key written and the item after. The
// first UpdateItem writes the sighting as the newest view of the person,
// conditional on it being so (messaging.ContactRecord.Supersedes); when
// it is not, a second only fills the person's fields and lateSighting
// gives the rest of messaging.MergeContact.
func (s *Messages) sight(ctx context.Context, tenantID, phoneNumberID, k string, p messaging.Person, sg messaging.Sighting) (string, map[string]types.AttributeValue, error) {
	seen := map[string]bool{}
	for range messaging.MaxMergeHops {
		seen[k] = true
		key := contactKey(tenantID, phoneNumberID, k)
		view := messaging.Sighted(phoneNumberID, p.Under(k), sg)
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, true, "", view.Person)
		u.addTo(attrVersion, numberAttr(1))
		setOrigin(ctx, u)
		// The newest sighting moves the contact's expiry on.
		s.expire(u, true, view.LastSeenAt)
		ns := u.name(attrLastSeenNs)
		cond := "attribute_not_exists(" + attrMergedInto + ") AND (attribute_not_exists(" + ns + ")"
		if !view.LastSeenAt.IsZero() {
			t := u.val(numberAttr(messaging.Instant(view.LastSeenAt)))
			u.set = append(u.set, ns+" = "+t)
			u.setTo(attrLastSeenAt, str(stamp(view.LastSeenAt)))
			cond += " OR " + ns + " <= " + t
			if !view.LastInboundAt.IsZero() {
				// No sighting, inbound or not, is newer than this one.
				u.set = append(u.set, u.name(attrLastInboundNs)+" = "+t)
				u.setTo(attrLastInboundAt, str(stamp(view.LastInboundAt)))
			}
		}
		cond += ")"
		if view.ConversationID != "" {
			u.setTo(attrConversationID, str(view.ConversationID))
			u.setTo(attrConversationNs, numberAttr(messaging.Instant(view.ConversationAt)))
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
		putPerson(u, false, "", view.Person)
		s.expire(u, false, view.LastSeenAt)
		u.addTo(attrVersion, numberAttr(1))
		out, err = s.updateItem(ctx, key, u, "attribute_not_exists("+attrMergedInto+")", types.ReturnValueAllNew)
		if err != nil {
			if old, failed = conditionFailedItem(err); !failed {
				return k, nil, err
			}
			k = stringAttr(old[attrMergedInto]) // merged meanwhile: follow it
			continue
		}
		it, merged, err := s.lateSighting(ctx, key, out.Attributes, view)
		if err != nil {
			return k, nil, err
		}
		if merged != "" {
			k = merged
			continue
		}
		return k, it, nil
	}
	return k, nil, fmt.Errorf("contact merged more than %d times", messaging.MaxMergeHops)
}

// lateSighting gives the contact under key, whose item is it, what the
// older sighting view still brings by messaging.MergeContact: its time as
// LastInboundAt when it is inbound and newer than the stored one, its
// conversation when the stored one was seen earlier. That is one
// UpdateItem, conditional on what it replaces, and none when there is
// nothing to give. It returns the item after, or the key the contact was
// merged into meanwhile.
func (s *Messages) lateSighting(ctx context.Context, key, it map[string]types.AttributeValue, view messaging.ContactRecord) (map[string]types.AttributeValue, string, error) {
	for range 5 {
		cur := contactFrom(view.PhoneNumberID, it).rec
		merged, changed := messaging.MergeContact(cur, view)
		if !changed {
			return it, "", nil
		}
		u := newUpdate()
		conds := mergeUpdate(u, cur, merged, view)
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
// BatchGetItem), computes the contact messaging.ChangedIdentity leaves at
// the one messaging.IdentityTarget names, writes it whole, conditional on
// the version it read, and points the old contact at it.
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
		targetKey, revert, err := messaging.IdentityTarget(oldKey, curKey, func(k string) (string, error) {
			if _, ok := items[k]; !ok {
				got, err := s.getContacts(ctx, tenantID, phoneNumberID, []string{k}, true)
				if err != nil {
					return "", err
				}
				items[k] = got[k]
			}
			return stringAttr(items[k][attrMergedInto]), nil
		})
		if err != nil {
			return wrap(err)
		}
		old, target := contactFrom(phoneNumberID, items[oldKey]), contactFrom(phoneNumberID, items[targetKey])
		next := target
		next.rec = messaging.ChangedIdentity(target.rec, old.rec, previous.BSUID, current, targetKey == curKey, at)
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
		item := next.item(contactKey(tenantID, phoneNumberID, targetKey))
		expireItem(s.Retention, item, next.rec.LastSeenAt, s.now())
		if o := messaging.OriginOf(ctx); o != "" {
			item[attrSource] = str(string(o))
		}
		in := &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String(cond)}
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
		s.expire(u, false, at)
		if _, err := s.updateItem(ctx, contactKey(tenantID, phoneNumberID, oldKey), u, "", types.ReturnValueNone); err != nil {
			return wrap(err)
		}
		return nil
	}
	return wrap(errs.E(errs.Unavailable, "contact kept changing", nil))
}

// SetMarketingPreference implements messaging.Store by the rule of
// messaging.SetPreference: one UpdateItem, conditional on no higher
// sequence being stored (messaging.MergePreference, spelled as the
// condition; then nothing changes), following the contact's merge.
func (s *Messages) SetMarketingPreference(ctx context.Context, tenantID, phoneNumberID string, p messaging.Person, pref messaging.MarketingPreference) error {
	wrap := func(err error) error {
		return fmt.Errorf("set marketing preference of %s on %s: %w", p.Key(), phoneNumberID, refused(err))
	}
	k := p.Key()
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return wrap(invalid("preference without tenant, number or person"))
	}
	seen := map[string]bool{}
	for range messaging.MaxMergeHops {
		seen[k] = true
		u := newUpdate()
		u.setTo(attrPhoneNumberID, str(phoneNumberID))
		putPerson(u, false, "", p.Under(k))
		u.setTo(attrMarketing, marketingAttr(pref))
		u.addTo(attrVersion, numberAttr(1))
		setOrigin(ctx, u)
		s.expire(u, false, pref.OccurredAt)
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
	return wrap(fmt.Errorf("contact merged more than %d times", messaging.MaxMergeHops))
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

// Contact implements messaging.Reader: one GetItem per contact on the
// way messaging.FollowMerges takes.
func (s *Messages) Contact(ctx context.Context, tenantID, phoneNumberID, bsuidOrPhone string) (messaging.Contact, bool, error) {
	k := messaging.LookupKey(bsuidOrPhone)
	if tenantID == "" || phoneNumberID == "" || k == "" {
		return messaging.Contact{}, false, nil
	}
	var item map[string]types.AttributeValue
	_, err := messaging.FollowMerges(k, func(key string) (string, error) {
		it, err := s.getItem(ctx, contactKey(tenantID, phoneNumberID, key))
		if err != nil {
			return "", fmt.Errorf("read contact %s: %w", key, err)
		}
		item = it
		return stringAttr(it[attrMergedInto]), nil
	})
	if err != nil || s.gone(item) {
		return messaging.Contact{}, false, err
	}
	return contactFrom(phoneNumberID, item).rec.Contact, true, nil
}
