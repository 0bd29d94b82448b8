package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/envelope"
	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/kapso"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/poll"
)

// A person writes three messages, one a photo, and is written to once;
// the tenant erases them: the read API and the bucket no longer hold
// anything of theirs, and the reconciler's catch-up, which reads Kapso's
// history (still holding it), brings nothing back. When they write again,
// that message is stored.
func TestErasedPersonIsGoneAndStaysGone(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	number, _ := connect(t, s, "acme")
	const phone = "5215512345678"
	ana := map[string]any{"from_phone": "+" + phone, "name": "Ana"}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range ana {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	var wamids []string
	for _, m := range []map[string]any{{"text": "oi"}, {"text": "tudo bem?"}, {"type": "image", "text": "o bolo"}} {
		wamids = append(wamids, sim(t, s, "/_sim/numbers/"+number+"/messages", with(m)).WAMID)
	}
	photo := waitMessage(t, s, "acme", wamids[2], storedMedia)
	photoURL := mediaOf(photo)["url"].(string)
	out := sim(t, s, "/_sim/numbers/"+number+"/outbound", map[string]any{"text": "olá, Ana", "to_phone": phone})
	wamids = append(wamids, out.WAMID)
	for _, w := range wamids {
		waitMessage(t, s, "acme", w, func(map[string]any) bool { return true })
	}
	bob := sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "eu fico", "from_phone": "+5215599999999"}).WAMID
	waitMessage(t, s, "acme", bob, func(map[string]any) bool { return true })

	exportHolds(t, s, number, phone, wamids[:3], wamids[3:])
	status, answer := api(t, s, http.MethodDelete, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, "")
	job, _ := answer["erasure"].(map[string]any)
	if status != http.StatusAccepted || job == nil {
		t.Fatalf("DELETE: %d %v", status, answer)
	}
	id := job["id"].(string)
	// The messages worker read the number unmarked while Ana wrote, and
	// keeps that for erasure.MarkTTL: what it stores meanwhile is for the
	// final sweep, minutes later. Past it, the worker sees the mark.
	time.Sleep(erasure.MarkTTL + time.Second)
	rep := reconcileNow(t, s)
	if rep.Erasures.Found != 1 {
		t.Fatalf("the reconciler advanced %+v", rep.Erasures)
	}
	status, answer = api(t, s, http.MethodGet, "/v1/tenants/acme/erasures/"+id, "")
	erased, _ := answer["erasure"].(map[string]any)["erased"].(map[string]any)
	if status != http.StatusOK || erased["messages"] != float64(4) || erased["media_objects"] != float64(1) ||
		erased["contacts"] == float64(0) {
		t.Fatalf("GET erasure: %d %v", status, answer)
	}
	gone := func(when string) {
		t.Helper()
		for _, w := range wamids {
			if status, m := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+w, ""); status != http.StatusNotFound {
				t.Errorf("%s: message %s: %d %v", when, w, status, m)
			}
		}
		if status, c := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, ""); status != http.StatusNotFound {
			t.Errorf("%s: contact: %d %v", when, status, c)
		}
		if res, err := http.Get(photoURL); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Errorf("%s: the photo is still in the bucket", when)
			}
		}
	}
	gone("after the erasure")
	exportGone(t, s, number, phone)
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+bob, ""); status != http.StatusOK {
		t.Errorf("someone else's message: %d", status)
	}

	// The catch-up reads Kapso's history again, which still holds Ana's
	// messages: they are handed to the messages worker, which drops them.
	reconcileNow(t, s)
	settled(t, s)
	gone("after the catch-up")

	again := sim(t, s, "/_sim/numbers/"+number+"/messages", with(map[string]any{"text": "voltei"})).WAMID
	waitMessage(t, s, "acme", again, func(map[string]any) bool { return true })
	// The contact is written after the message.
	if !poll.Until(30*time.Second, 100*time.Millisecond, func() bool {
		status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, "")
		return status == http.StatusOK
	}) {
		t.Error("after writing again, the person has no contact")
	}
	erasedOnce(t, s, job, phone, "Ana")
}

// bsuidsIn collects the values of every "bsuid" and "parent_bsuid" field
// of v, at any depth.
func bsuidsIn(v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && s != "" && (k == "bsuid" || k == "parent_bsuid") {
				into[s] = true
			}
			bsuidsIn(x, into)
		}
	case []any:
		for _, x := range v {
			bsuidsIn(x, into)
		}
	}
}

// A person who wrote three messages (one a photo) and was written to once
// is erased, and the job runs to done. Then every way their data can come
// back is tried: their signed webhook deliveries posted again, byte for
// byte (under their own idempotency keys, and under new ones), one of
// their deliveries that sat in the messages DLQ since before the erasure
// redriven, and the reconciler's catch-up, which reads Kapso's history
// (still holding them). Nothing of them is back: not in the read API, not
// in any item of the bridge table, not in the media bucket; someone
// else's conversation on the number is untouched. When they write again,
// that message is stored.
func TestErasedPersonStaysGoneAfterReplayRedriveAndCatchUp(t *testing.T) {
	s := launchStackWith(t, map[string]string{config.ReconcileEvery.Name: "1h"})
	t.Cleanup(s.Stop)
	ctx := context.Background()
	number, _ := connect(t, s, "acme")
	const phone = "5215512345678"
	ana := func(m map[string]any) map[string]any {
		m["from_phone"], m["name"] = "+"+phone, "Ana"
		return m
	}
	var wamids []string
	for _, m := range []map[string]any{{"text": "oi"}, {"text": "tudo bem?"}, {"type": "image", "text": "o bolo"}} {
		wamids = append(wamids, sim(t, s, "/_sim/numbers/"+number+"/messages", ana(m)).WAMID)
	}
	waitMessage(t, s, "acme", wamids[2], storedMedia)
	wamids = append(wamids, sim(t, s, "/_sim/numbers/"+number+"/outbound", map[string]any{"text": "olá, Ana", "to_phone": phone}).WAMID)
	ids := map[string]bool{}
	for _, w := range wamids {
		bsuidsIn(waitMessage(t, s, "acme", w, func(map[string]any) bool { return true }), ids)
	}
	bob := sim(t, s, "/_sim/numbers/"+number+"/messages", map[string]any{"text": "eu fico", "from_phone": "+5215599999999"}).WAMID
	waitMessage(t, s, "acme", bob, func(map[string]any) bool { return true })
	settled(t, s)
	names := []string{phone}
	for b := range ids {
		names = append(names, b)
	}

	// Her deliveries as Kapso signed and sent them.
	var hers []kapsosim.Delivery
	seen := map[string]bool{}
	for _, d := range s.Sim.Deliveries() {
		if d.Status == http.StatusOK && !seen[d.Key] && bytes.Contains(d.Body, []byte(phone)) {
			seen[d.Key] = true
			hers = append(hers, d)
		}
	}
	if len(hers) < 4 {
		t.Fatalf("%d deliveries name her, want at least her 4 messages'", len(hers))
	}

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	queues := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(s.DynamoDBEndpoint) })
	bucket := s3media.NewClient(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) })
	messagesQueue := s.Queues[schema.Messages.ID]
	// One of her deliveries failed its retries before the erasure: it sits
	// in the messages DLQ as the ingest queued it.
	first := hers[0]
	msg, err := envelope.Encode(envelope.Delivery{Source: envelope.SourceKapsoNumber, Key: "kapso_number#" + number + "#" + first.Key,
		PhoneNumberID: number, Event: first.Event, IdempotencyKey: first.Key, ReceivedAt: first.At.UTC()}, first.Body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queues.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(messagesQueue.DLQURL), MessageBody: aws.String(msg)}); err != nil {
		t.Fatal(err)
	}

	status, answer := api(t, s, http.MethodDelete, "/v1/tenants/acme/numbers/"+number+"/contacts/"+phone, "")
	job, _ := answer["erasure"].(map[string]any)
	if status != http.StatusAccepted || job == nil {
		t.Fatalf("DELETE: %d %v", status, answer)
	}
	id := job["id"].(string)
	// The job deletes at once, then makes its final sweep SweepDelay after
	// the request.
	time.Sleep(erasure.SweepDelay + time.Second)
	if !poll.Until(time.Minute, time.Second, func() bool {
		reconcileNow(t, s)
		_, answer = api(t, s, http.MethodGet, "/v1/tenants/acme/erasures/"+id, "")
		e, _ := answer["erasure"].(map[string]any)
		return e["state"] == string(erasure.Done)
	}) {
		t.Fatalf("the erasure is not done: %v", answer)
	}

	// (a) Her deliveries again, same bytes, same signatures: under their
	// own keys (duplicates) and under new ones (new deliveries).
	for i, d := range hers {
		for _, key := range []string{d.Header.Get("X-Idempotency-Key"), fmt.Sprintf("replayed-%d", i)} {
			req, _ := http.NewRequest(http.MethodPost, d.URL, bytes.NewReader(d.Body))
			req.Header = d.Header.Clone()
			req.Header.Set("X-Idempotency-Key", key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("replay of %s (%s) under %s: %d", d.Key, d.Event, key, res.StatusCode)
			}
		}
	}
	// A status of her message, in Meta's format, dated after the erasure:
	// a status is never new content from her.
	hooks := s.Sim.Webhooks(number)
	if len(hooks) != 1 {
		t.Fatalf("webhooks of %s: %+v", number, hooks)
	}
	status = postSigned(t, s.URL+"/webhooks/meta/"+number, hooks[0].SecretKey, fmt.Appendf(nil,
		`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",`+
			`"metadata":{"display_phone_number":"15550783881","phone_number_id":%q},"statuses":[{"id":%q,"status":"read","timestamp":"%d","recipient_id":%q}]}}]}]}`,
		number, wamids[3], time.Now().Unix(), phone))
	if status != http.StatusOK {
		t.Fatalf("Meta status: %d", status)
	}
	// (b) The DLQ redriven.
	rep, err := sqsqueue.Redrive(ctx, queues, messagesQueue.DLQURL, messagesQueue.URL, sqsqueue.RedriveOptions{})
	if err != nil || rep.Moved != 1 {
		t.Fatalf("redrive: moved %d, %v", rep.Moved, err)
	}
	// (c) The reconciler's catch-up.
	reconcileNow(t, s)
	settled(t, s)

	for _, w := range wamids {
		if status, m := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+w, ""); status != http.StatusNotFound {
			t.Errorf("message %s: %d %v", w, status, m)
		}
	}
	for _, name := range names {
		if status, c := api(t, s, http.MethodGet, "/v1/tenants/acme/numbers/"+number+"/contacts/"+name, ""); status != http.StatusNotFound {
			t.Errorf("contact %s: %d %v", name, status, c)
		}
	}
	_, convs := api(t, s, http.MethodGet, "/v1/tenants/acme/conversations", "")
	listedConvs, _ := json.Marshal(convs)
	for _, name := range names {
		if strings.Contains(string(listedConvs), name) {
			t.Errorf("the conversations list names %s: %s", name, listedConvs)
		}
	}
	list, _ := convs["conversations"].([]any)
	if len(list) != 1 || !strings.Contains(string(listedConvs), "5215599999999") {
		t.Errorf("someone else's conversation: %s", listedConvs)
	}
	if status, _ := api(t, s, http.MethodGet, "/v1/tenants/acme/messages/"+bob, ""); status != http.StatusOK {
		t.Errorf("someone else's message: %d", status)
	}
	items, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.Tables[schema.Bridge.ID])})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items.Items {
		text := awstest.Strings(it)
		for _, name := range append(names, wamids...) {
			if strings.Contains(text, name) {
				t.Errorf("an item names %s: %q", name, strings.ReplaceAll(text, "\n", " | "))
			}
		}
	}
	objects, err := bucket.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.Buckets[schema.MediaBucket.ID])})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects.Contents) != 0 {
		t.Errorf("%d objects in the media bucket, want none (only she sent media)", len(objects.Contents))
	}

	// She writes again: stored.
	again := sim(t, s, "/_sim/numbers/"+number+"/messages", ana(map[string]any{"text": "voltei"})).WAMID
	waitMessage(t, s, "acme", again, func(map[string]any) bool { return true })
}

// postSigned posts body to url as Kapso forwards a delivery: signed with
// the webhook's secret, under a new idempotency key.
func postSigned(t *testing.T, url, secret string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Signature", kapso.Sign(secret, body))
	req.Header.Set("X-Idempotency-Key", fmt.Sprintf("signed-%d", time.Now().UnixNano()))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
