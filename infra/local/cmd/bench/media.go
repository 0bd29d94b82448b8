package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kapso-bridge/kapso-bridge/infra/local/kapsosim"
	"github.com/kapso-bridge/kapso-bridge/infra/local/stack"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/kapsoapi"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/mediaworker"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
	"github.com/kapso-bridge/kapso-bridge/shared/schema"
	"github.com/kapso-bridge/kapso-bridge/shared/snstopic"
	"github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

// targetMediaPeakRSS is the media function's most resident memory while it
// copies one media, whatever its size (docs/performance.md).
const targetMediaPeakRSS = 64 << 20

// mediaMemoryMB is the media function's memory in the CDK stack.
const mediaMemoryMB = 256

// mediaOptions size the media section: a file of each kind, at its size.
type mediaOptions struct {
	Files []mediaFile
}

type mediaFile struct {
	Type  string
	Bytes int64
}

// mediaFiles are the media section's files: a video and a document at
// Meta's limits (16 MB, 100 MB), or in a quick run one just past one
// multipart part and one that fits in a single put.
func mediaFiles(quick bool) []mediaFile {
	if quick {
		return []mediaFile{{"video", s3media.PartSize + 1<<20}, {"document", 1 << 20}}
	}
	return []mediaFile{{"video", 16 * media.MB}, {"document", 100 * media.MB}}
}

// mediaResult is bench-results.json's "media".
type mediaResult struct {
	Copies []mediaCopy `json:"copies"`
}

// mediaCopy is one media copied by the real media function binary, and the
// same bytes put into the same bucket by a plain upload in the same run.
type mediaCopy struct {
	Type  string `json:"type"`
	Bytes int64  `json:"bytes"`
	// PeakRSS is the function process's VmHWM after the copy: one process
	// for each media.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// WorkerMs is the invocation, from the event handed over to the
	// answer: the state read, Kapso's metadata, the download streamed into
	// the bucket while hashed, the state recorded.
	WorkerMs float64 `json:"worker_ms"`
	// PlainMs is Kapso's metadata, then the download streamed into one
	// PutObject, from this process.
	PlainMs    float64 `json:"plain_upload_ms"`
	VsPlain    float64 `json:"worker_vs_plain_upload"`
	State      string  `json:"state"`
	SimSHA256  string  `json:"simulator_sha256"`
	Stored     string  `json:"object_sha256"`
	SHA256Same bool    `json:"sha256_matches"`
}

// addMedia runs the media section and checks it against its targets.
func (r *Results) addMedia(ctx context.Context, mo mediaOptions, step func(string)) error {
	m, err := runMedia(ctx, mo, step)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	r.checkMedia(m)
	return nil
}

// checkMedia records the media section and flags every copy over the
// memory target, not stored, or whose bytes are not the simulator's.
func (r *Results) checkMedia(m *mediaResult) {
	r.Media = m
	r.Targets["media_peak_rss_bytes_max"] = targetMediaPeakRSS
	for _, c := range m.Copies {
		if c.PeakRSS == 0 || c.PeakRSS >= targetMediaPeakRSS {
			r.Missed = append(r.Missed, fmt.Sprintf("media: %s of %d bytes: peak RSS %.1f MiB (target < %d MiB)",
				c.Type, c.Bytes, float64(c.PeakRSS)/(1<<20), targetMediaPeakRSS>>20))
		}
		if !c.SHA256Same || c.State != string(media.Stored) {
			r.Missed = append(r.Missed, fmt.Sprintf("media: %s of %d bytes: state %q, stored sha256 %s, the simulator's %s",
				c.Type, c.Bytes, c.State, c.Stored, c.SimSHA256))
		}
	}
}

// runMedia starts the local stack, has a person send each file to a
// connected number, and copies each with the real media function binary
// from the event the publisher made of the stored message. The media queue
// is unsubscribed from the events topic for the run and a queue of the
// bench's own subscribed in its place, with the same filter: whatever
// polls the media queue never copies the bench's media first.
func runMedia(ctx context.Context, mo mediaOptions, step func(string)) (*mediaResult, error) {
	step("media: starting the local stack and connecting a tenant through the simulator")
	l, err := startLoader(ctx, stack.Options{}, nil, 4)
	if err != nil {
		return nil, err
	}
	defer l.s.Stop()
	c := l.awsClients()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	topics := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = aws.String(l.s.Services.SQSEndpoint) })
	objects := l.s3Client()
	q, err := l.divertMedia(ctx, c.q, topics)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, u := range []string{q.URL, q.DLQURL} {
			_, _ = c.q.DeleteQueue(context.WithoutCancel(ctx), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		}
	}()
	dir, err := os.MkdirTemp("", "kapso-bridge-media-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	res := &mediaResult{}
	for _, f := range mo.Files {
		step(fmt.Sprintf("media: a %s of %d bytes", f.Type, f.Bytes))
		cp, err := l.copyOne(ctx, dir, q.URL, c.q, objects, f)
		if err != nil {
			return nil, fmt.Errorf("%s of %d bytes: %w", f.Type, f.Bytes, err)
		}
		res.Copies = append(res.Copies, cp)
	}
	return res, nil
}

// divertMedia unsubscribes the media queue from the events topic and
// subscribes a new queue with the media subscription's filter instead.
func (l *loader) divertMedia(ctx context.Context, q *sqs.Client, topics *sns.Client) (sqsqueue.QueueURLs, error) {
	sub := schema.MediaSubscription
	topicARN := l.s.Topics[sub.Topic.ID]
	mediaARN, err := sqsqueue.QueueARN(ctx, q, l.s.Queues[sub.Queue.ID].URL)
	if err != nil {
		return sqsqueue.QueueURLs{}, err
	}
	subs, err := topics.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicARN)})
	if err != nil {
		return sqsqueue.QueueURLs{}, fmt.Errorf("list the events topic's subscriptions: %w", err)
	}
	for _, s := range subs.Subscriptions {
		if aws.ToString(s.Endpoint) != mediaARN {
			continue
		}
		if _, err := topics.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: s.SubscriptionArn}); err != nil {
			return sqsqueue.QueueURLs{}, fmt.Errorf("unsubscribe the media queue: %w", err)
		}
	}
	urls, err := sqsqueue.CreateQueue(ctx, q, sub.Queue, "kb-bench-"+l.run+"-")
	if err != nil {
		return urls, err
	}
	arn, err := sqsqueue.QueueARN(ctx, q, urls.URL)
	if err != nil {
		return urls, err
	}
	_, err = snstopic.Subscribe(ctx, topics, sub, topicARN, arn)
	return urls, err
}

// copyOne has the person send the file, takes the event of it off the
// bench's media queue, copies it with a fresh media function process,
// checks the stored object, then puts the same bytes from the same source
// into the bucket with one plain PutObject, for comparison.
func (l *loader) copyOne(ctx context.Context, dir, queueURL string, q *sqs.Client, objects *s3.Client, f mediaFile) (mediaCopy, error) {
	cp := mediaCopy{Type: f.Type, Bytes: f.Bytes}
	sent, err := l.s.Sim.SendInbound(ctx, l.number, kapsosim.Inbound{Type: f.Type, Size: f.Bytes, FromPhone: "5215512345678"})
	if err != nil {
		return cp, err
	}
	var sim *kapsosim.MessageMedia
	for _, m := range l.s.Sim.Messages(l.number) {
		if m.WAMID == sent.WAMID {
			sim = m.Media
		}
	}
	if sim == nil {
		return cp, fmt.Errorf("the simulator has no media on %s", sent.WAMID)
	}
	cp.SimSHA256 = sim.SHA256

	bucket := l.s.Buckets[schema.MediaBucket.ID]
	fn, err := l.startFunction(ctx, dir, string(config.Media), mediaMemoryMB,
		map[string]string{config.MediaQueueURL.Name: queueURL})
	if err != nil {
		return cp, err
	}
	var handled bool
	p := &sqsqueue.Poller{Client: q, QueueURL: queueURL, BatchSize: mediaworker.BatchSize, Timeout: schema.Media.ConsumerTimeout,
		Handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var res events.SQSEventResponse
			payload, _ := json.Marshal(ev)
			r, err := fn.api.Invoke(ctx, payload)
			switch {
			case err != nil:
				return res, err
			case r.Err != nil:
				return res, r.Err
			}
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return res, err
			}
			if len(res.BatchItemFailures) > 0 {
				return res, fmt.Errorf("the function failed %d of %d messages", len(res.BatchItemFailures), len(ev.Records))
			}
			cp.WorkerMs, handled = float64(r.AnsweredAt.Sub(r.TakenAt).Microseconds())/1e3, true
			return res, nil
		}}
	for deadline := time.Now().Add(time.Minute); !handled; {
		if time.Now().After(deadline) {
			fn.stop()
			return cp, errors.New("no media event reached the bench's queue within a minute")
		}
		if _, err := p.Once(ctx, 1); err != nil {
			fn.stop()
			return cp, err
		}
	}
	cp.PeakRSS = fn.stop()

	var view struct {
		Media struct {
			State  string `json:"state"`
			SHA256 string `json:"sha256"`
		} `json:"media"`
	}
	if st, err := l.api(ctx, http.MethodGet, "/v1/tenants/"+loadTenant+"/messages/"+url.PathEscape(sent.WAMID), "", &view); err != nil || st != http.StatusOK {
		return cp, fmt.Errorf("read message %s: %d %v", sent.WAMID, st, err)
	}
	cp.State = view.Media.State
	key := media.ObjectKey(loadTenant, l.number, sim.ID)
	if cp.Stored, err = objectSHA256(ctx, objects, bucket, key); err != nil {
		return cp, err
	}
	cp.SHA256Same = cp.Stored == sim.SHA256 && view.Media.SHA256 == sim.SHA256
	_, _ = objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})

	if cp.PlainMs, err = l.plainUpload(ctx, bucket, sim); err != nil {
		return cp, fmt.Errorf("plain upload: %w", err)
	}
	cp.VsPlain = cp.WorkerMs / cp.PlainMs
	return cp, nil
}

// plainUpload reads the media's metadata from Kapso and streams its
// download into the bucket as a copy with no hashing, no bound check and no
// state would, with clients of its own (no connection warmer than the
// function's), and answers how long that took in ms. The body goes
// straight from the download into the requests, a PutObject when it fits
// in one part, else parts of the worker's size (fauxqs takes no request
// over 11 MiB), unsigned (a stream is not read twice to hash it) and with
// no checksum computed.
func (l *loader) plainUpload(ctx context.Context, bucket string, sim *kapsosim.MessageMedia) (float64, error) {
	objects := l.s3Client()
	_, metaBase := l.s.KapsoBases()
	src := kapsoapi.NewMetaProxy(metaBase, "", l.s.Env.Value(config.KapsoAPIKey))
	key := "bench-plain/" + sim.ID
	streamed := func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	began := time.Now()
	m, err := src.Metadata(ctx, l.number, sim.ID)
	if err != nil {
		return 0, err
	}
	body, err := src.Open(ctx, m)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if m.FileSize <= s3media.PartSize {
		_, err = objects.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body,
			ContentLength: aws.Int64(m.FileSize), ContentType: aws.String(m.MIMEType)}, streamed)
	} else {
		err = plainMultipart(ctx, objects, bucket, key, m.MIMEType, body, m.FileSize, streamed)
	}
	ms := float64(time.Since(began).Microseconds()) / 1e3
	if err != nil {
		return 0, err
	}
	got, err := objectSHA256(ctx, objects, bucket, key)
	_, _ = objects.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	switch {
	case err != nil:
		return 0, err
	case got != sim.SHA256:
		return 0, fmt.Errorf("the plain upload stored sha256 %s, the simulator's is %s", got, sim.SHA256)
	}
	return ms, nil
}

// plainMultipart streams size bytes of body into key in parts of
// s3media.PartSize, one after another.
func plainMultipart(ctx context.Context, objects *s3.Client, bucket, key, contentType string, body io.Reader, size int64,
	streamed func(*s3.Options)) error {
	up, err := objects.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key,
		ContentType: aws.String(contentType)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for n, left := int32(1), size; left > 0; n++ {
		length := min(left, s3media.PartSize)
		p, err := objects.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: io.LimitReader(body, length), ContentLength: aws.Int64(length)}, streamed)
		if err != nil {
			return fmt.Errorf("upload part %d: %w", n, err)
		}
		parts = append(parts, types.CompletedPart{ETag: aws.String(strings.Trim(aws.ToString(p.ETag), `"`)), PartNumber: aws.Int32(n)})
		left -= length
	}
	_, err = objects.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// s3Client is a new client of fauxqs's S3.
func (l *loader) s3Client() *s3.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	return s3media.NewClient(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(l.s.Services.SQSEndpoint) })
}

// objectSHA256 reads an object from the bucket and hashes it.
func objectSHA256(ctx context.Context, objects *s3.Client, bucket, key string) (string, error) {
	out, err := objects.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("get object %s: %w", key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", fmt.Errorf("read object %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func printMedia(w io.Writer, r Results) {
	m := r.Media
	if m == nil {
		return
	}
	fmt.Fprintf(w, "\nmedia: the media function binary (%d MB) copying from the simulator into fauxqs S3, one process a media\n",
		mediaMemoryMB)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "media\tMiB\tpeak RSS MiB\tworker ms\tplain upload ms\t×plain\tstate\tsha256 = simulator's\t")
	for _, c := range m.Copies {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.0f\t%.0f\t%.2f\t%s\t%v\t\n", c.Type, float64(c.Bytes)/(1<<20),
			float64(c.PeakRSS)/(1<<20), c.WorkerMs, c.PlainMs, c.VsPlain, c.State, c.SHA256Same)
	}
	_ = tw.Flush()
}

// loadAverage is /proc/loadavg's first three fields; "" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
