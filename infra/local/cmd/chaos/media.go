package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/bridgeevents"
	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/services"
	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/mediaapp"
	settings "github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// mediaKinds are the files a person sends in the run.
var mediaKinds = []string{"image", "audio", "video", "document", "sticker"}

// mediaSchedule is the media worker's waits between attempts in the run:
// Meta's minutes made seconds, longer together than any fault window.
var mediaSchedule = mediaworker.Schedule{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// mediaRun is the media side of a run: who copies the media and the
// faults the simulator's media answers were given.
type mediaRun struct {
	// ownPoller: kapso-bridge does not drain the media queue, so this
	// process runs the media worker on it.
	ownPoller bool
	// Fault windows set on the simulator's media: 5xx at a rate, expired
	// URLs, a wrong sha256.
	failing, expired, wrongSHA atomic.Int64

	mu sync.Mutex
	// right are the WAMIDs whose media verifyMedia found as it should be.
	right map[string]bool
}

func (m *mediaRun) found(wamid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.right == nil {
		m.right = map[string]bool{}
	}
	m.right[wamid] = true
}

// checked says whether verifyMedia found the message's media as it
// should be.
func (m *mediaRun) checked(wamid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.right[wamid]
}

// startMedia finds out whether kapso-bridge drains the media queue and,
// when it does not, runs the media worker on it in this process, as the
// media function would (its retries in seconds), until ctx ends.
func (c *chaos) startMedia(ctx context.Context, svc *services.Services, wg *sync.WaitGroup) error {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	c.media = &mediaRun{}
	u, err := c.queueURL(ctx, schema.Media.ID)
	if err != nil {
		return fmt.Errorf("media queue: %w", err)
	}
	polled, err := c.mediaPolled(ctx, u)
	if err != nil {
		return err
	}
	if polled {
		c.logf("media: kapso-bridge drains the media queue")
		return nil
	}
	c.media.ownPoller = true
	c.logf("media: kapso-bridge does not drain the media queue; this process runs the media worker on it")
	vals := map[string]string{
		settings.BridgeTable.Name:      dynamo.TableNames(queuePrefix)[schema.Bridge.ID],
		settings.MediaBucket.Name:      queuePrefix + schema.MediaBucket.ID,
		settings.MediaQueueURL.Name:    u,
		settings.KapsoMetaBaseURL.Name: c.simURL + "/meta/whatsapp",
		settings.KapsoAPIKey.Name:      kapsoKey,
	}
	logFile, err := os.Create(filepath.Join(c.dir, "media-worker.log"))
	if err != nil {
		return err
	}
	b := app.Base{Env: func(k string) string { return vals[k] },
		Log: slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	w, err := mediaapp.Worker(ctx, b, mediaapp.Clients{
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(svc.DynamoDBEndpoint) }),
		S3:       s3media.NewClient(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(svc.SQSEndpoint) }), SQS: c.sqs})
	if err != nil {
		logFile.Close()
		return err
	}
	w.Schedule = mediaSchedule
	p := &sqsqueue.Poller{Client: c.sqs, QueueURL: u, Handler: w.Handle, BatchSize: mediaworker.BatchSize,
		Timeout: schema.Media.ConsumerTimeout, Log: b.Log}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer logFile.Close()
		p.Run(ctx)
	}()
	return nil
}

// mediaPolled says whether something else drains the media queue: a
// probe event naming a message that is not stored is put on it, which the
// media worker takes and drops without a write. Still there to be received
// five seconds later, nothing took it.
func (c *chaos) mediaPolled(ctx context.Context, queueURL string) (bool, error) {
	wamid := fmt.Sprintf("wamid.CHAOSPROBE%d", time.Now().UnixNano())
	data, _ := json.Marshal(bridgeevents.MessageReceivedData{TenantID: "chaos-probe", Message: bridgeevents.Message{
		MessageSummary: bridgeevents.MessageSummary{ID: wamid, WAMID: wamid, PhoneNumberID: "0", Direction: "inbound",
			MessageContent: &bridgeevents.MessageContent{Type: "image", Media: &bridgeevents.Media{ID: "0"}}}}})
	body, _ := json.Marshal(bridgeevents.Event{ID: "probe-" + wamid, Type: bridgeevents.MessageReceived,
		Timestamp: time.Now().UTC(), TenantID: "chaos-probe", Source: "webhook", Subject: "message:" + wamid, Version: 1,
		Data: data})
	if _, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL),
		MessageBody: aws.String(string(body))}); err != nil {
		return false, fmt.Errorf("media probe: %w", err)
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(5 * time.Second):
	}
	for range 3 {
		r, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			return false, fmt.Errorf("media probe: %w", err)
		}
		for _, m := range r.Messages {
			if strings.Contains(aws.ToString(m.Body), wamid) {
				_, err := c.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL),
					ReceiptHandle: m.ReceiptHandle})
				return false, err
			}
			// Not the probe: back on the queue for its consumer.
			_, _ = c.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(queueURL),
				ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
	}
	return true, nil
}

// mediaFaults changes the simulator's media faults every few seconds
// during the traffic, through its /_sim control: 5xx answers at a rate
// throughout, and in turn windows of a wrong sha256, of expired URLs and
// of more 5xx, each shorter than the worker's retries; none once the
// traffic is over.
func (c *chaos) mediaFaults(ctx context.Context, stopped *atomic.Bool) {
	set := func(f kapsosim.MediaFaults) {
		b, _ := json.Marshal(f)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.simURL+"/_sim/media/faults", bytes.NewReader(b))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if resp, err := c.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	defer set(kapsosim.MediaFaults{})
	for i := 0; !stopped.Load() && ctx.Err() == nil; i++ {
		f := kapsosim.MediaFaults{FailureRate: c.cfg.FaultRate * 2}
		switch i % 3 {
		case 0:
			f.WrongSHA256 = true
			c.media.wrongSHA.Add(1)
		case 1:
			f.Expired = true
			c.media.expired.Add(1)
		default:
			f.FailureRate = 0.5
			c.media.failing.Add(1)
		}
		set(f)
		time.Sleep(1500 * time.Millisecond)
		set(kapsosim.MediaFaults{FailureRate: c.cfg.FaultRate * 2})
		time.Sleep(time.Duration(500+c.intn(1000)) * time.Millisecond)
	}
}

// inboundMedia is a person's message with media, as picked for the
// traffic: a kind's small file, or one in ten a generated file of a
// few MB.
func (c *chaos) inboundMedia(in kapsosim.Inbound) kapsosim.Inbound {
	in.Type = mediaKinds[c.intn(len(mediaKinds))]
	if (in.Type == "document" || in.Type == "video") && c.intn(10) == 0 {
		in.Size = int64(1+c.intn(3)) << 20
	}
	return in
}

// verifyMedia checks every inbound message with media the simulator sent
// to a tenant with Kapso webhooks: its copy is stored with the simulator's
// sha256, read back from the bucket (through the read API's presigned URL)
// and hashed, or failed for a wrong
// sha256 that was injected. Anything else (pending, another failure, other
// bytes) is a mismatch.
func (c *chaos) verifyMedia(ctx context.Context, res *result, note func(string, ...any)) error {
	var mu sync.Mutex
	count := func(n *int) {
		mu.Lock()
		*n++
		mu.Unlock()
	}
	return c.each(ctx, c.tenants, 4, func(t *tenant) error {
		if t.PNID == "" {
			return nil
		}
		for _, m := range c.sim.Messages(t.PNID) {
			if m.Direction != "inbound" || m.Media == nil {
				continue
			}
			count(&res.Media)
			// An erased or offboarded message's object must be gone from
			// the bucket; around an erasure, either.
			if f, _ := c.fateOf(t.ID, m.Person, m.At, m.At); f != kept {
				if f == gone {
					there, err := c.objectExists(ctx, media.ObjectKey(t.ID, t.PNID, m.Media.ID))
					if err != nil {
						return err
					}
					if there {
						note("tenant %s: media of deleted message %s (%s, %s) is still in the bucket; the message %s", t.ID,
							m.WAMID, personName(m.Person), m.At.Format(time.RFC3339Nano), c.howBack(m.WAMID))
						count(&res.ErasedMediaBack)
					}
				}
				continue
			}
			var view struct {
				Media *struct {
					State  string `json:"state"`
					SHA256 string `json:"sha256"`
					Error  string `json:"error"`
					URL    string `json:"url"`
				} `json:"media"`
			}
			st, err := c.getJSON(ctx, "/v1/tenants/"+t.ID+"/messages/"+url.PathEscape(m.WAMID), &view)
			if err != nil {
				return err
			}
			switch {
			case st != http.StatusOK || view.Media == nil:
				note("tenant %s: media message %s: HTTP %d, no media", t.ID, m.WAMID, st)
				count(&res.MediaWrong)
			case view.Media.State == string(media.Stored):
				sum, err := c.objectSHA256(ctx, view.Media.URL)
				if err != nil || sum != m.Media.SHA256 || view.Media.SHA256 != m.Media.SHA256 {
					note("tenant %s: media of %s stored as %s, object %s %v, the simulator's %s", t.ID, m.WAMID,
						view.Media.SHA256, sum, err, m.Media.SHA256)
					count(&res.MediaWrong)
					continue
				}
				count(&res.MediaStored)
				c.media.found(m.WAMID)
			case view.Media.State == string(media.Failed) && strings.HasPrefix(view.Media.Error, media.ReasonChecksum) &&
				c.media.wrongSHA.Load() > 0:
				count(&res.MediaFailedChecksum)
				c.media.found(m.WAMID)
			default:
				note("tenant %s: media of %s is %s (%s)", t.ID, m.WAMID, view.Media.State, view.Media.Error)
				count(&res.MediaWrong)
			}
		}
		return nil
	})
}

// objectSHA256 reads a stored media from the bucket through the
// presigned URL the read API gave, and hashes it.
func (c *chaos) objectSHA256(ctx context.Context, presigned string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, presigned, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET the presigned url: %d", resp.StatusCode)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", fmt.Errorf("read the object: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// objectExists says whether the media bucket holds key.
func (c *chaos) objectExists(ctx context.Context, key string) (bool, error) {
	_, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(queuePrefix + schema.MediaBucket.ID),
		Key: aws.String(key)})
	var re *awshttp.ResponseError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("head %s: %w", key, err)
}
